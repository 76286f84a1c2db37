'use strict';

// The interface every backend implements, written down once. The face (store.js) is
// the only caller; the write scheduler (scheduler.js) calls the write half. Two kinds
// of implementation (backends/):
//   the engine in this process (`memory`, or a SQLite `file`): every method answers
//   in the call, and failures are thrown as the native module throws them;
//   a server (`server`, PostgreSQL): every method returns a promise, run by the face
//   one after another in call order, and failures reject the same way.
// A failure is always an Error with a `code` (one of Rust's, `CODES` in errors.js) and
// a `message`, thrown in the call or rejecting the promise; the face turns it into the
// caller's error in one place (`fromNative`).
//
// Names cross as their JSON literals (`JSON.stringify(name)`, `literal` below); a
// filter crosses as the wire text `validate.filter` writes; reads return `Rows`.

/**
 * What a read returns: records (runs of record numbers `[from, to)`, record = position
 * - 1) that the face's cache resolves (engine), or a page of messages as text
 * (src/binding/page.rs) that it builds (server).
 * @typedef {Uint32Array | string} Rows
 */

/**
 * @template T
 * @typedef {T | Promise<T>} Answer in the call (engine) or later (server)
 */

/**
 * @typedef {object} Backend
 * @property {'memory' | 'file' | 'server'} kind how saves become safe (scheduler.js)
 *
 * Writes: engine (memory, file)
 * @property {() => number} [capacity] the most messages the store can hold (Rust's limit)
 * @property {() => number} [count] messages held
 * @property {(literal: string) => number | null} [revision] a stream's revision, -1 when empty, null when absent
 * @property {(payload: string) => { index: number, code: string, message: string }[]} [apply] queued saves (`saveMany`'s payload) applied in the call; the refused ones
 * @property {(payload: string) => Promise<unknown> | null} [applyLater] the same, acknowledged, applied on the thread pool (memory)
 * @property {(literal: string, text: string, batch: boolean, expected: number | undefined, kind: number | undefined, now: number) => number} [save] one save in the call; the stream's new revision
 * @property {boolean} [syncWrites] whether a file write waits for the disk to sync (durability 'power')
 * @property {() => void} [commit] writes to the file what changed (file)
 * @property {() => Promise<void>} [commitLater] the same on the thread pool
 * @property {(literal: string, from: number | undefined, limit: number | undefined) => string} [readStreamJson]
 * @property {(wire: string | undefined, limit: number | undefined) => string} [queryJson]
 * @property {(records: Uint32Array) => string} [build] the first page of the records' messages
 * @property {() => string | null} [nextPage] the next page, or null
 *
 * Writes: server
 * @property {(saves: { header: string, literal: string, text: string }[]) => Promise<{ refused: { index: number, code: string, actual: number }[], revisions: (number | null)[] }>} [append]
 *   a group of saves in one transaction: the refused ones (index, code's name, the stream's revision) and each save's new revision, once committed (positioned just after)
 * @property {() => Promise<number>} [start] listens for the store's new positions, then reads the head
 * @property {(feed: object, onReset: (head: number) => void) => Promise<void>} [watch]
 *   follows the store's new positions (this process's saves and others') while `feed` has subscriptions
 * @property {() => void} [unlisten] stops listening (server) or polling (read-only file)
 *
 * Following another process's writes: engine, file opened read-only
 * @property {boolean} [readOnly] the file was opened read-only: another process writes it, every change here is refused
 * @property {() => void} [assertWritable] throws what every change is refused with (code `ReadOnly`), or nothing
 * @property {() => { head: number, reset: boolean } | null} [refresh]
 *   takes into the engine what the writer committed since the last call: the last position now, and
 *   whether positions started again (the writer reset the file); null when nothing was committed
 * @property {(tick: () => void) => void} [poll] calls `tick` every 100 ms (an unref'd timer) until `unlisten`
 *
 * Reads and changes: every backend
 * @property {(literal: string, from: number | undefined, limit: number | undefined) => Answer<Rows>} readStream
 * @property {(wire: string | undefined, limit: number | undefined) => Answer<Rows>} query
 * @property {(wire: string | undefined, after: number, upTo: number, limit: number) => Answer<{ rows: Rows, through: number }>} follow
 *   a subscription's page: the first `limit` matches in `(after, upTo]` and the position read through
 * @property {() => Answer<number>} head the last position
 * @property {(literal: string, revision: number) => Answer<number | null>} streamPosition
 * @property {(literal: string) => Answer<string | null>} streamInfo JSON (wire.rs), or null
 * @property {() => Answer<string>} streams the ids as a JSON array, in creation order
 * @property {() => Answer<string>} stats JSON (wire.rs)
 * @property {() => Answer<string>} sessions JSON array (wire.rs)
 * @property {(literal: string) => Answer<string | null>} sessionInfo JSON, or null
 * @property {(now: number) => Answer<string>} createSession the new session's id; current from now on
 * @property {(literal: string, now: number) => Answer<void>} endSession
 *
 * History (history.js; the text's format: src/history/mod.rs): every backend
 * @property {(after: number) => Answer<{ text: string, lastPosition: number, streams: number }>} historyHeader
 *   the header line of the history after position `after`, as the store is now, and where its export ends
 *   (`streams`: what `historyPage` takes as its end of streams, opaque)
 * @property {(after: number, declared: number, last: number, streams: number, messagesOnly: boolean) => Answer<{ text: string, after: number, declared: number, done: boolean }>} historyPage
 *   the next page of lines after position `after` with the streams before `declared` declared (0 at first),
 *   about 1 MiB, at least one message; `done` once it reached `last` and `streams`
 * @property {(header: string, resume: boolean) => Answer<number>} importBegin
 *   checks that the store can take the history (refused unless empty, or with `resume` holding its start),
 *   changing nothing; its head
 * @property {(header: string, text: string, firstLine: number) => Answer<{ messages: number, streams: number }>} importLines
 *   whole lines of the history whose header line is `header`, checked whole, then written in one transaction
 *   (the header's sessions the store lacks first); the lines of each kind read
 * @property {(header: string) => Answer<void>} importEnd adds the header's sessions the store lacks, and gives each its last activity
 *
 * @property {() => Answer<void>} reset empties the store
 * @property {() => Answer<void>} close frees it; every later call is refused
 */

module.exports = {};
