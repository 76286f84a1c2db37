'use strict';

// The package's CommonJS entry. The native module is loaded by the loader that
// `napi build` generates (binding.js); everything users touch is defined in lib/.

const native = require('./binding.js');
const { createStores } = require('./lib/store.js');
const { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } = require('./lib/errors.js');

const { MemoryMessageStore, SqliteMessageStore } = createStores(native);

module.exports = {
  MemoryMessageStore,
  SqliteMessageStore,
  ConcurrencyError,
  StreamNotFoundError,
  WrongExpectedRevisionError,
};
