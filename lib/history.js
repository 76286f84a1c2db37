'use strict';

// A store's history as NDJSON text (the format: src/history/mod.rs and
// docs/cli.md#the-history-format), the same for every backend: exported a page at a
// time, imported a chunk of whole lines at a time. Each chunk is checked whole by the
// backend before any of it is written, and written in one transaction; this file
// splits the text into chunks, counts the lines against the header (a text cut short
// ends early), and undoes an import into an empty store that fails.

const { createHash } = require('node:crypto');
const { CODES, fromNative } = require('./errors');

/** About how much text one import call takes: large enough that a call's cost is small beside its work. */
const CHUNK_CHARS = 1 << 20;

/** An Error with a `code` of CODES. */
function historyError(message, code) {
  return Object.assign(new Error(message), { code });
}

/**
 * The history of the messages after `after`: the header line, then pages of lines.
 * `read` runs a backend call in the store's call order (the face's read turn).
 * With `messagesOnly`, no header and no stream lines (what `digest` reads).
 * @param {(op: () => any) => Promise<any> | any} read
 * @param {import('./backend').Backend} backend
 * @returns {AsyncGenerator<string, void, void>}
 */
async function* exportText(read, backend, after, messagesOnly = false) {
  const start = await read(() => backend.historyHeader(after));
  if (!messagesOnly) yield start.text;
  let cursor = { after: Math.min(after, start.lastPosition), declared: 0 };
  for (;;) {
    const page = await read(() => backend.historyPage(cursor.after, cursor.declared, start.lastPosition, start.streams, messagesOnly));
    if (page.text.length > 0) yield page.text;
    if (page.done) {
      if (page.after < start.lastPosition) {
        throw historyError(
          `the store was reset during the export: it ended at position ${page.after} of the ${start.lastPosition} its header promised`,
          CODES.InvalidHistory,
        );
      }
      return;
    }
    cursor = { after: page.after, declared: page.declared };
  }
}

/**
 * The digest of the messages at positions 1 to `upTo` (all when undefined): SHA-256 of
 * their history lines, which hold every field of every message; two stores with one
 * history give one digest, whatever kind they are.
 */
async function digest(read, backend, upTo) {
  const hash = createHash('sha256');
  let n = 0;
  for await (const text of exportText(read, backend, 0, true)) {
    const lines = countLines(text);
    if (upTo !== undefined && n + lines >= upTo) {
      hash.update(firstLines(text, upTo - n));
      n = upTo;
      break;
    }
    hash.update(text);
    n += lines;
  }
  return { lastPosition: BigInt(n), sha256: hash.digest('hex') };
}

function countLines(text) {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

function firstLines(text, n) {
  let end = 0;
  for (let i = 0; i < n; i++) end = text.indexOf('\n', end) + 1;
  return text.slice(0, end);
}

/**
 * Chunks of whole lines from `source` (strings, or bytes of UTF-8), the first chunk
 * the header line alone: `{ text, line }`, `line` the number of its first line.
 * @param {AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>} source
 */
async function* chunks(source) {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending = '';
  let line = 1;
  let header = true;
  const decode = (part, stream) => {
    try {
      return typeof part === 'string' ? part : decoder.decode(part, { stream });
    } catch {
      throw historyError(`line ${line + countLines(pending)}: the history is not UTF-8 text`, CODES.InvalidHistory);
    }
  };
  for await (const part of source) {
    if (typeof part !== 'string' && !(part instanceof Uint8Array)) {
      throw new TypeError(`a history is read as strings or bytes, got ${typeof part}`);
    }
    pending += decode(part, true);
    if (header) {
      const end = pending.indexOf('\n');
      if (end === -1) continue;
      yield { text: pending.slice(0, end), line: 1 };
      pending = pending.slice(end + 1);
      line = 2;
      header = false;
    }
    if (pending.length >= CHUNK_CHARS) {
      const end = pending.lastIndexOf('\n');
      if (end === -1) continue;
      const text = pending.slice(0, end + 1);
      pending = pending.slice(end + 1);
      yield { text, line };
      line += countLines(text);
    }
  }
  pending += decode(new Uint8Array(0), false);
  if (header) {
    if (pending.trim() === '') throw historyError('the history is empty: it has no header line', CODES.InvalidHistory);
    yield { text: pending, line: 1 };
    return;
  }
  if (pending.trim() !== '') yield { text: pending, line };
}

/**
 * Writes the history `source` holds into the store behind `backend`, which must be
 * empty, or (`resume`) hold the history's start. `run` runs a backend call in the
 * store's call order; `changed` tells the face what an imported chunk added; `undo`
 * empties the store (an import into an empty store that fails leaves it empty).
 * @returns {Promise<{ lastPosition: bigint, messages: number, streams: number, sessions: number, skipped: number }>}
 */
async function importText({ run, backend, source, resume, signal, changed, undo }) {
  const lines = chunks(source);
  const first = await lines.next();
  if (first.done) throw historyError('the history is empty: it has no header line', CODES.InvalidHistory);
  const headerText = /** @type {{ text: string }} */ (first.value).text;
  const head = await run(() => backend.importBegin(headerText, resume));
  const header = JSON.parse(headerText);
  const fromEmpty = head === 0 && !resume;
  let messages = 0;
  let streams = 0;
  let line = 1;
  try {
    for await (const { text, line: at } of lines) {
      if (signal?.aborted) {
        throw Object.assign(new Error(`the import was interrupted after line ${line}: importing again with resume continues it`), {
          name: 'AbortError',
          code: 'ABORT_ERR',
        });
      }
      const read = await run(() => backend.importLines(headerText, text, at));
      messages += read.messages;
      streams += read.streams;
      line = at + countLines(text) - (text.endsWith('\n') ? 1 : 0);
      changed();
    }
    if (messages !== header.messages || streams !== header.streams) {
      const what = `${header.messages} messages and ${header.streams} streams`;
      throw historyError(
        messages < header.messages || streams < header.streams
          ? `the history is cut short: its header promises ${what}, and it ends at line ${line} after ${messages} and ${streams}`
          : `the history holds more than its header promises (${what}): ${messages} messages and ${streams} streams`,
        CODES.InvalidHistory,
      );
    }
    await run(() => backend.importEnd(headerText));
    const stats = JSON.parse(await run(() => backend.stats()));
    if (stats.totalStreams !== header.streams || stats.totalSessions !== header.sessions.length) {
      throw historyError(
        `the store holds ${stats.totalStreams} streams and ${stats.totalSessions} sessions where the history has ${header.streams} and ${header.sessions.length}: it held others before`,
        CODES.NotEmpty,
      );
    }
  } catch (e) {
    if (fromEmpty && signal?.aborted !== true) {
      await undo();
      e.message += '; nothing of it was kept: the store is empty again';
    } else if (signal?.aborted !== true && e.code !== CODES.NotEmpty) {
      // A store holding another history was refused before anything was written.
      e.message += `; the store keeps what was imported before (through position ${head + messages}), and importing again with resume continues it`;
    }
    throw e;
  }
  return {
    lastPosition: BigInt(header.lastPosition),
    messages: header.messages,
    streams: header.streams,
    sessions: header.sessions.length,
    skipped: Math.max(0, head - header.after),
  };
}

/**
 * A SQLite store file's history read straight from the file (src/journal/export.rs),
 * without opening the store: memory stays flat whatever the file's size, and a writer
 * may hold the file meanwhile. The history is the file as it was when this opened.
 * What the `message-store` command exports and copies a SQLite file with.
 */
class SqliteHistoryFile {
  #native;
  #h;
  #read;
  #backend;

  /** @param {typeof import('../.tmp/binding')} native @param {string} path */
  constructor(native, path) {
    this.#native = native;
    this.#read = (op) => {
      try {
        return op();
      } catch (e) {
        throw fromNative(e);
      }
    };
    this.#h = this.#read(() => native.openSqliteHistory(path));
    const h = this.#h;
    this.#backend = /** @type {import('./backend').Backend} */ (
      /** @type {unknown} */ ({
        historyHeader: (after) => native.fileHistoryHeader(h, after),
        historyPage: (after, declared, last, streams, messagesOnly) =>
          native.fileHistoryPage(h, after, declared, last, streams, messagesOnly),
      })
    );
  }

  /** `exportHistory` of the store the file holds. */
  exportHistory({ after = 0 } = {}) {
    return exportText(this.#read, this.#backend, Number(after));
  }

  /** `historyDigest` of the store the file holds. */
  historyDigest(upTo) {
    return digest(this.#read, this.#backend, upTo === undefined ? undefined : Number(upTo));
  }

  /** The file's last position now: what a writer committed since this opened counts. */
  headNow() {
    return this.#read(() => this.#native.fileHistoryHead(this.#h));
  }

  close() {
    this.#native.fileHistoryClose(this.#h);
  }
}

module.exports = { exportText, importText, digest, SqliteHistoryFile, CHUNK_CHARS };
