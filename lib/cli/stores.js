'use strict';

// How the command opens what a locator names. A store it only reads (tail, stats,
// streams, sessions) is a SQLite file opened read-only, so an application may hold it
// for writing meanwhile. A history it exports or copies from a SQLite file is read
// straight from the file (SqliteHistoryFile: no engine, memory flat whatever the
// size, the file as it was when opened, a writer going on meanwhile).

const fs = require('node:fs');
const path = require('node:path');
const { openMessageStore, parseLocator } = require('../open');
const { SqliteHistoryFile } = require('../history');
const native = require('../native');

/** Opens a store to read it: a SQLite file read-only (a running application may hold it). */
function openToRead(locator) {
  const kind = parseLocator(locator).kind;
  return openMessageStore(locator, kind === 'sqlite' ? { readOnly: true } : undefined);
}

/**
 * Opens a store to write into: a SQLite file is created when absent. `discard()`,
 * after `dispose()`, removes the file when this created it (an import that failed
 * leaves nothing behind).
 */
function openToWrite(locator) {
  const where = parseLocator(locator);
  const created = where.kind === 'sqlite' && !fs.existsSync(where.path) ? where.path : null;
  const store = openMessageStore(locator);
  const discard = () => {
    if (created === null) return;
    for (const f of [created, `${created}-wal`, `${created}-shm`, `${created}-journal`]) fs.rmSync(f, { force: true });
  };
  return { store, discard };
}

/**
 * A history to export or copy from: `exportHistory`, `historyDigest`, `head()` (its
 * last position now) and `close()`.
 */
function openSource(locator) {
  const where = parseLocator(locator);
  if (where.kind === 'sqlite') {
    const file = new SqliteHistoryFile(native.load(), where.path);
    return {
      exportHistory: (options) => file.exportHistory(options),
      historyDigest: (upTo) => file.historyDigest(upTo),
      head: async () => Number(file.headNow()),
      close: async () => file.close(),
    };
  }
  const store = openToRead(locator);
  return {
    exportHistory: (options) => store.exportHistory(options),
    historyDigest: (upTo) => store.historyDigest(upTo),
    head: async () => (await store.getStats()).totalMessages,
    close: () => store.dispose(),
  };
}

/** Whether two locators name one store (the same SQLite file, or the same URL). */
function sameStore(a, b) {
  const x = parseLocator(a);
  const y = parseLocator(b);
  if (x.kind !== y.kind || x.kind === 'memory') return false;
  if (x.kind === 'sqlite' && y.kind === 'sqlite') return path.resolve(x.path) === path.resolve(y.path);
  return a === b;
}

module.exports = { openToRead, openToWrite, openSource, sameStore };
