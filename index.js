'use strict';

// The package's CommonJS entry. lib/native.js loads the native module built for this
// machine; everything users touch is defined in lib/.

const native = require('./lib/native.js').load();
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
