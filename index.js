'use strict';

// The package's CommonJS entry: everything users touch is defined in lib/ (stores.js
// makes the classes over the native module that native.js loads).

const { MemoryMessageStore, SqliteMessageStore, PostgresMessageStore } = require('./lib/stores.js');
const { openMessageStore } = require('./lib/open.js');
const { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } = require('./lib/errors.js');

module.exports = {
  MemoryMessageStore,
  SqliteMessageStore,
  PostgresMessageStore,
  openMessageStore,
  ConcurrencyError,
  StreamNotFoundError,
  WrongExpectedRevisionError,
};
