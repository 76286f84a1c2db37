'use strict';

// The backend of `MemoryMessageStore` and `SqliteMessageStore`: the native engine
// (src/engine/), in this process, with its journal for a file (src/journal/). Every
// method is synchronous: it takes effect inside the call, so the face (store.js)
// needs no queue of its own to keep call order. Failures are thrown as the native
// module throws them (`{ code, message }`); the face turns them into JavaScript errors.
//
// Reads return records: run pairs `[from, to)` of record numbers (position - 1),
// which the face's object cache looks up before anything is built (`build`, `nextPage`).
//
// A file opened read-only (`sqliteReadOnly`) is written by another process: the face
// takes in that writer's commits before every read (`refresh`), and while it has
// subscriptions asks this backend to call it back every `POLL_MS` (`poll`), on an
// unref'd timer, so that it never keeps Node alive.

/** How often a read-only file store with open subscriptions looks for its writer's commits. */
const POLL_MS = 100;

/** @typedef {import('../backend').Backend} Backend */

/** @implements {Backend} */
class EngineBackend {
  /** @type {'memory' | 'file'} */
  kind;
  /** Whether a file write waits for the disk to sync (durability 'power'). */
  syncWrites;
  /** Whether the file was opened read-only: another process writes it, every change here is refused. */
  readOnly;
  #native;
  #h;
  /** The poll timer while a read-only store has subscriptions, else null. */
  #timer = null;

  /**
   * @param {typeof import('../../.tmp/binding')} native the loaded addon (lib/native.js)
   * @param {ReturnType<typeof import('../../.tmp/binding').create>} handle its store handle
   * @param {'memory' | 'file'} kind
   * @param {boolean} syncWrites
   * @param {boolean} [readOnly]
   */
  constructor(native, handle, kind, syncWrites, readOnly = false) {
    this.#native = native;
    this.#h = handle;
    this.kind = kind;
    this.syncWrites = syncWrites;
    this.readOnly = readOnly;
  }

  /** A memory store. */
  static memory(native) {
    return new EngineBackend(native, native.create(), 'memory', false);
  }

  /** A file store, opened (or created) and rebuilt from the file in the call. */
  static sqlite(native, path, durability) {
    return new EngineBackend(native, native.openSqlite(path, durability), 'file', durability === 'power');
  }

  /** An existing file, opened read-only beside its writer and rebuilt from it in the call; creates nothing. */
  static sqliteReadOnly(native, path) {
    return new EngineBackend(native, native.openSqliteReadOnly(path), 'file', false, true);
  }

  /** How many messages the store can hold (the engine's limit). */
  capacity() {
    return this.#native.capacity(this.#h);
  }

  // Writes: the scheduler's (scheduler.js).
  apply(payload) {
    return this.#native.saveMany(this.#h, payload);
  }
  applyLater(payload) {
    return this.#native.saveManyLater(this.#h, payload);
  }
  save(literal, text, batch, expected, kind, now) {
    return this.#native.save(this.#h, literal, text, batch, expected, kind, now);
  }
  commit() {
    this.#native.commit(this.#h);
  }
  commitLater() {
    return this.#native.commitAsync(this.#h);
  }
  revision(literal) {
    return this.#native.streamRevision(this.#h, literal);
  }
  count() {
    return JSON.parse(this.#native.stats(this.#h)).totalMessages;
  }

  // Reads.
  readStream(literal, from, limit) {
    return this.#native.readStreamRuns(this.#h, literal, from, limit);
  }
  query(wire, limit) {
    return this.#native.queryRuns(this.#h, wire, limit);
  }
  follow(wire, after, upTo, limit) {
    const runs = this.#native.followRuns(this.#h, wire, after, upTo, limit);
    let n = 0;
    for (let k = 0; k < runs.length; k += 2) n += runs[k + 1] - runs[k];
    // A full page reads through its last record (runs end exclusive: its position).
    return { rows: runs, through: n < limit ? upTo : runs[runs.length - 1] };
  }
  build(records) {
    return this.#native.build(this.#h, records);
  }
  nextPage() {
    return this.#native.nextPage(this.#h);
  }
  readStreamJson(literal, from, limit) {
    return this.#native.readStreamJson(this.#h, literal, from, limit);
  }
  queryJson(wire, limit) {
    return this.#native.queryJson(this.#h, wire, limit);
  }
  head() {
    return this.count();
  }
  streamPosition(literal, revision) {
    return this.#native.streamPosition(this.#h, literal, revision);
  }
  streamInfo(literal) {
    return this.#native.streamInfo(this.#h, literal);
  }
  streams() {
    return this.#native.streams(this.#h);
  }
  stats() {
    return this.#native.stats(this.#h);
  }
  sessions() {
    return this.#native.sessions(this.#h);
  }
  sessionInfo(literal) {
    return this.#native.sessionInfo(this.#h, literal);
  }

  // History (history.js): exported a page at a time, imported a chunk of lines at a time.
  historyHeader(after) {
    return this.#native.historyHeader(this.#h, after);
  }
  historyPage(after, declared, last, streams, messagesOnly) {
    return this.#native.historyPage(this.#h, after, declared, last, streams, messagesOnly);
  }
  importBegin(header, resume) {
    return this.#native.importBegin(this.#h, header, resume);
  }
  importLines(header, text, firstLine) {
    return this.#native.importLines(this.#h, header, text, firstLine);
  }
  importEnd(header) {
    this.#native.importEnd(this.#h, header);
  }

  // Changes besides saves.
  createSession(now) {
    return this.#native.createSession(this.#h, now);
  }
  endSession(literal, now) {
    this.#native.endSession(this.#h, literal, now);
  }
  reset() {
    this.#native.reset(this.#h);
  }
  close() {
    this.unlisten();
    this.#native.close(this.#h);
  }

  // Read-only: following the file's writer.
  /** What the writer committed since the last call, now in the engine: `{ head, reset }`, or null when nothing. */
  refresh() {
    return this.#native.refresh(this.#h);
  }
  /** Throws what every change is refused with (read-only: code `ReadOnly`). */
  assertWritable() {
    this.#native.assertWritable(this.#h);
  }
  /** Calls `tick` every `POLL_MS` until `unlisten`. */
  poll(tick) {
    if (this.#timer !== null) return;
    this.#timer = setInterval(tick, POLL_MS);
    this.#timer.unref();
  }
  /** Stops polling. */
  unlisten() {
    if (this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
  }
}

module.exports = { EngineBackend, POLL_MS };
