'use strict';

// The three classes users make: the one face (store.js) over each backend (backends/).
// A new backend is one module in backends/ and one class here.

const createDebug = require('debug');
const check = require('./validate');
const { MessageStore } = require('./store');
const { EngineBackend } = require('./backends/engine');
const { PostgresBackend } = require('./backends/postgres');
const { fromNative } = require('./errors');

/** The native addon built for this machine (native.js): loading the package fails clearly without it. */
const native = require('./native').load();
const addon = () => native;

const memoryDebug = createDebug('auto:message-store:memory');
const sqliteDebug = createDebug('auto:message-store:sqlite');
const postgresDebug = createDebug('auto:message-store:postgres');

/** The in-memory store, kept off the JavaScript heap by the native engine. */
class MemoryMessageStore extends MessageStore {
  constructor(options) {
    const { cacheBytes } = check.storeOptions(options, false);
    super(EngineBackend.memory(addon()), { debug: memoryDebug, cacheBytes });
    memoryDebug('MemoryMessageStore initialized.');
  }
}

/**
 * The same store, kept in a SQLite file: opened (or created) synchronously, rebuilt
 * from the file, and every change written before its promise resolves. With
 * `readOnly`, an existing file is read alongside its writer (another process), whose
 * commits every read takes in first; every change is refused.
 */
class SqliteMessageStore extends MessageStore {
  constructor(path, options) {
    const { durability, cacheBytes, readOnly } = check.storeOptions(options, true);
    if (typeof path !== 'string' || path === '') {
      throw new TypeError(`path must be a non-empty string, got ${check.describe(path)}`);
    }
    let backend;
    try {
      backend = readOnly ? EngineBackend.sqliteReadOnly(addon(), path) : EngineBackend.sqlite(addon(), path, durability);
    } catch (e) {
      throw fromNative(e);
    }
    super(backend, { debug: sqliteDebug, cacheBytes });
    if (readOnly) sqliteDebug('SqliteMessageStore opened %s read-only.', path);
    else sqliteDebug('SqliteMessageStore opened %s (durability %s).', path, durability ?? 'process');
  }
}

/**
 * The store on a PostgreSQL server, shared by every process that names the same schema.
 * `connectionString` or `{ connectionString, schema = 'message_store', poolSize = 4, ssl, failoverTimeout = 30000, listenConnectionString }`.
 * Parses the connection string and reads the TLS files, but connects to nothing: the
 * first call connects and creates the schema's tables if absent.
 */
class PostgresMessageStore extends MessageStore {
  constructor(options) {
    const { connectionString, schema, connect } = check.postgresOptions(options);
    let backend;
    try {
      backend = new PostgresBackend(addon(), connectionString, schema, connect);
    } catch (e) {
      throw fromNative(e);
    }
    super(backend, { debug: postgresDebug });
    postgresDebug('PostgresMessageStore on schema %s at %s.', schema, backend.target);
  }
}

module.exports = { MemoryMessageStore, SqliteMessageStore, PostgresMessageStore };
