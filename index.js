'use strict';

// The package's CommonJS entry. The native module is loaded by the loader that
// `napi build` generates (binding.js); everything users touch is defined in lib/.

const native = require('./binding.js');
const { createMemoryMessageStore } = require('./lib/memory-store.js');
const { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } = require('./lib/errors.js');

const MemoryMessageStore = createMemoryMessageStore(native);

module.exports = {
  MemoryMessageStore,
  ConcurrencyError,
  StreamNotFoundError,
  WrongExpectedRevisionError,
};
