'use strict';

// `openMessageStore(locator, options)`: one way to open any store, from a string an
// application keeps in its configuration (`MESSAGE_STORE_URL`) and the
// `message-store` command takes. The accepted forms are listed once, in `FORMS`.

const { MemoryMessageStore, SqliteMessageStore, PostgresMessageStore } = require('./stores');
const check = require('./validate');

/** What a locator may be, as errors name it. */
const FORMS = "'memory:', a SQLite file's path or 'sqlite:<path>', or a 'postgres://' or 'postgresql://' URL";

/**
 * PostgresMessageStore's own options that a URL may carry as query parameters, beside
 * PostgreSQL's (which stay in the connection string): name, and how the text becomes the value.
 */
const POSTGRES_PARAMS = {
  schema: (v) => v,
  poolSize: (v) => wholeNumber('poolSize', v),
  failoverTimeout: (v) => wholeNumber('failoverTimeout', v),
  listenConnectionString: (v) => v,
};

function wholeNumber(name, text) {
  if (!/^\d{1,16}$/.test(text)) throw new TypeError(`the locator's ${name} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * What a locator names: `{ kind: 'memory' }`, `{ kind: 'sqlite', path }` or
 * `{ kind: 'postgres', connectionString, options }`.
 */
function parseLocator(locator) {
  if (typeof locator !== 'string' || locator.trim() === '') {
    throw new TypeError(`a store locator must be a non-empty string (${FORMS}), got ${check.describe(locator)}`);
  }
  if (locator === 'memory:' || locator === 'memory://') return { kind: 'memory' };
  if (locator.startsWith('sqlite:')) {
    // `sqlite:./bus.db`, `sqlite:bus.db`, `sqlite:///var/bus.db` (a URL's empty host).
    let path = locator.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
    if (path === '') throw new TypeError(`the locator ${JSON.stringify(locator)} names no file: use 'sqlite:<path>'`);
    return { kind: 'sqlite', path };
  }
  if (/^postgres(ql)?:\/\//.test(locator)) {
    let url;
    try {
      url = new URL(locator);
    } catch {
      throw new TypeError(`the locator is not a valid PostgreSQL URL (${FORMS})`);
    }
    const options = {};
    for (const [name, parse] of Object.entries(POSTGRES_PARAMS)) {
      const value = url.searchParams.get(name);
      if (value === null) continue;
      options[name] = parse(value);
      url.searchParams.delete(name);
    }
    return { kind: 'postgres', connectionString: url.toString(), options };
  }
  // A scheme of two letters or more that is none of ours (`mysql://`, `file:`); one
  // letter is a Windows drive (`C:\bus.db`), a path.
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(locator);
  if (scheme !== null) throw new TypeError(`unknown store locator scheme '${scheme[1]}:': use ${FORMS}`);
  return { kind: 'sqlite', path: locator };
}

/**
 * Opens the store a locator names, with `options` (the store's own: `cacheBytes`,
 * SQLite's `durability` and `readOnly`, PostgreSQL's `ssl`, `schema`, …; a URL's query
 * parameters give PostgreSQL's too, and `options` wins over them).
 */
function openMessageStore(locator, options) {
  const where = parseLocator(locator);
  if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
    throw new TypeError(`options must be an object, got ${check.describe(options)}`);
  }
  switch (where.kind) {
    case 'memory':
      return new MemoryMessageStore(options ?? undefined);
    case 'sqlite':
      return new SqliteMessageStore(where.path, options ?? undefined);
    default:
      return new PostgresMessageStore({ ...where.options, ...options, connectionString: where.connectionString });
  }
}

module.exports = { openMessageStore, parseLocator, FORMS };
