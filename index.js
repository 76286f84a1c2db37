'use strict';

// The package's CommonJS entry. lib/native.js loads the native module built for this
// machine; everything users touch is defined in lib/.

const native = require('./lib/native.js').load();
const { createStores } = require('./lib/store.js');
const { createPostgresStore } = require('./lib/postgres.js');
const { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } = require('./lib/errors.js');

const { MemoryMessageStore, SqliteMessageStore } = createStores(native);
const PostgresMessageStore = createPostgresStore(native);

module.exports = {
  MemoryMessageStore,
  SqliteMessageStore,
  PostgresMessageStore,
  ConcurrencyError,
  StreamNotFoundError,
  WrongExpectedRevisionError,
};
