'use strict';

// The write scheduler: when a save reaches its backend, when it is written, and when
// its promise settles; for a backend whose calls resolve later (a server), also the
// order every call runs in. The face (store.js) checks a save's arguments and turns its
// messages into JSON text inside the call; everything after that is here. One
// scheduler serves every backend; the backend's `kind` picks how a save becomes safe:
//   memory  applied to the engine, in this process: safe (acknowledged) once queued;
//   file    applied to the engine in the call, safe once the file write holding it is done;
//   server  sent to the server with the saves called next to it, safe once committed.
//
// The queue: saves checked and stringified, waiting for the backend.
//   EMPTY   nothing is queued.
//   QUEUED  saves wait in call order. memory and file: they leave in one call (`drain`)
//           before the store's next other call, when the queue passes its bound, at the
//           next turn of the event loop (memory), or when the file's write starts
//           (file): a file store's through `apply`, in the call; a memory store's
//           through `applyLater`, into the engine's backlog, which a pool task applies
//           and every call into the engine finishes first (src/binding/core.rs).
//           server: they form one group (turns.js), sent in one round trip and one transaction
//           when its turn comes; any other call closes the group (`drain`).
// The writer (file and server; a memory store stays IDLE):
//   IDLE     nothing is due or under way.
//   DUE      a write is promised (`#next`) for every change made since the last one
//            started; it starts in a microtask after the current turn (file), or once
//            every call before it is done (server, turns.js), or once the write under
//            way ends.
//   WRITING  a write is under way (`#current`), maybe with one DUE behind it.
// And one terminal state for the whole store:
//   REFUSING the store takes no more saves (disposed, a write failed, or, for memory,
//            a save already acknowledged did not reach the engine, as the first call
//            into it to learn of that reports); each save is refused in its call, with
//            no native call, so a burst of them costs O(N). A memory store then
//            refuses every call until `reset()`.
//
// Invariants:
// - Call order: saves reach the backend in the order they were called, and before any
//   later call (the face drains the queue first; for a server every call waits its `turn`), so
//   every read, revision check and change sees every save called before it.
// - Revisions (memory and file): `#revisions` holds, for the streams it knows, the
//   revision the stream will have once everything queued is applied. An
//   `expectedRevision` is checked against it in the call; a stream not known is learned
//   from the engine (after a drain). It is emptied whenever it could be wrong (a
//   refusal, a session, a reset). A server checks expectations in its transaction.
// - Capacity (memory and file): a save that would take the store past the engine's
//   capacity (`backend.capacity()`, Rust's one number) is refused in its call.
// - Acknowledgement: a memory store's save settles when it is queued; the checks
//   before it leave nothing the engine refuses. A file or server save settles only
//   once the write (the transaction) that holds it is done.
// - Safety: `onSafe(head, streams, from)` is called once messages up to position `head`
//   are acknowledged (memory: when they reach the engine), written (file) or committed
//   (server), with the ids of the streams saved to after position `from` (a server
//   gives it: another process may have committed in between; otherwise every message
//   not yet reported); never for a refused save or a failed write. Subscriptions read
//   up to that head and no further.

const { fromNative, refusal, CODES } = require('./errors');
const { saveHeader } = require('./wire');
const { Turns } = require('./turns');

/** Most characters of message text one `apply` call takes (far below V8's longest string). */
const DRAIN_CHARS = 32 << 20;
/** A memory store's queue is drained in the call that passes either bound. */
const QUEUE_CHARS = 128 << 10;
const QUEUE_SAVES = 512;
/** Streams whose revision is kept; past this the map starts again. */
const MAX_REVISIONS = 65536;

const WRITE_FAILED = CODES.WriteFailed;
const CLOSED = CODES.Closed;

const noop = () => {};

class WriteScheduler {
  /** @type {import('./backend').Backend} */
  #backend;
  /** 'memory', 'file' or 'server' (above). */
  #kind;

  // The queue: three strings a save, as `apply` takes them (memory and file).
  #parts = [];
  #count = 0;
  #chars = 0;
  /** Memory: the drain scheduled for the next turn (an Immediate), or null. */
  #soon = null;
  /** File: the queued saves' `{ done, failures, count }`, each settled by the write that holds it. */
  #group = null;
  /** The last save header (`wire.saveHeader`) and what it was made of. */
  #header = '';
  #headerKind = null;
  #headerBatch = null;
  #headerNow = null;
  #headerExpected = null;

  // The writer.
  #next = null;
  #current = null;
  /** Server: the order of calls and the groups of saves (turns.js); null for the engine. */
  #turns = null;

  /** REFUSING: the error each save gets, made afresh each time; null while open. */
  #refusal = null;

  #revisions = new Map();
  /** Messages the engine holds once the queue is applied (memory and file). */
  #messages;
  #capacity;
  /** The streams saved to since `onSafe` was last called (one entry a save). */
  #streamIds = [];
  #onSafe;

  constructor(backend, { messages, onSafe }) {
    this.#backend = backend;
    this.#kind = backend.kind;
    this.#onSafe = onSafe;
    this.#messages = messages;
    this.#capacity = this.#kind === 'server' ? Number.POSITIVE_INFINITY : backend.capacity();
    if (this.#kind === 'server') this.#turns = new Turns(backend);
    this.#drainSoon = () => {
      this.#soon = null;
      try {
        this.drain();
      } catch {
        // Recorded: the store's next call reports it.
      }
    };
  }

  #drainSoon;

  /**
   * Queues a save of `n` messages (`text`: one message, or with `batch` an array of
   * them) to `streamId` (`literal`: its JSON literal). `expected` is the expected
   * revision as a number (or undefined), `expectedRevision` as the caller gave it;
   * `stable`: the text is certain to be what was checked (a server sends any other
   * save alone, so that its refusal refuses nothing else). Throws what the save is
   * refused for; returns undefined once a memory save is acknowledged, or the promise
   * of a file or server save.
   */
  save(streamId, literal, text, batch, n, expected, expectedRevision, kind, now, stable) {
    if (this.#refusal !== null) throw this.#refusal();
    if (this.#messages + n > this.#capacity) {
      throw new RangeError(`the store cannot hold more than ${this.#capacity} messages`);
    }
    if (this.#kind !== 'server') {
      let revision = this.#revisions.get(streamId);
      if (expected !== undefined) {
        if (revision === undefined) revision = this.#learn(streamId, literal);
        const refused = refusal(streamId, expectedRevision, expected, revision);
        if (refused !== null) throw refused;
        revision ??= -1;
      }
      if (revision !== undefined && revision !== null) this.#remember(streamId, revision + n);
    }
    // Saves in a row mostly share their header: made again only when a part changes.
    if (kind !== this.#headerKind || batch !== this.#headerBatch || now !== this.#headerNow || expected !== this.#headerExpected) {
      this.#headerKind = kind;
      this.#headerBatch = batch;
      this.#headerNow = now;
      this.#headerExpected = expected;
      this.#header = saveHeader(kind, batch, now, expected);
    }
    if (this.#turns !== null) return this.#turns.save(streamId, this.#header, literal, text, n, expectedRevision, stable);
    this.#parts.push(this.#header, literal, text);
    this.#streamIds.push(streamId);
    this.#count++;
    this.#chars += text.length;
    this.#messages += n;
    if (this.#kind === 'memory') {
      if (this.#chars >= QUEUE_CHARS || this.#count >= QUEUE_SAVES) this.drain();
      else if (this.#soon === null) this.#soon = setImmediate(this.#drainSoon);
      return undefined;
    }
    let group = this.#group;
    if (group === null) {
      // Due from now, so that a `dispose()` in the same turn waits for it.
      group = this.#group = { done: this.written(), failures: null, count: 0 };
    }
    const slot = group.count++;
    return group.done.then(
      () => {
        const refused = group.failures?.get(slot);
        if (refused !== undefined) throw refused;
      },
      (e) => {
        // A save the engine refused reports its own error, even when the write failed too.
        throw group.failures?.get(slot) ?? e;
      },
    );
  }

  /** The stream's revision from the engine (-1 when empty), or null when it does not exist. */
  #learn(streamId, literal) {
    this.drain();
    const revision = this.#call(() => this.#backend.revision(literal));
    if (revision !== null) this.#remember(streamId, revision);
    return revision;
  }

  #remember(streamId, revision) {
    if (this.#revisions.size >= MAX_REVISIONS) this.#revisions.clear();
    this.#revisions.set(streamId, revision);
  }

  /**
   * Memory and file: hands every queued save to the engine, in order. A refused save
   * changes nothing and the rest go on; a store that takes no writes refuses them all
   * at once. Server: closes the group, so that whatever is called next goes after it.
   */
  drain() {
    if (this.#turns !== null) {
      this.#turns.close();
      return;
    }
    if (this.#refusal !== null && this.#kind === 'memory') throw this.#refusal();
    if (this.#count === 0) return;
    if (this.#soon !== null) {
      // Cancelled, not left to find an empty queue: a pending Immediate would keep
      // the store (and its native memory) alive until the event loop turns.
      clearImmediate(this.#soon);
      this.#soon = null;
    }
    const parts = this.#parts;
    const count = this.#count;
    const group = this.#group;
    this.#parts = [];
    this.#count = 0;
    this.#chars = 0;
    this.#group = null;
    let from = 0;
    while (from < count) {
      let to = from;
      let chars = 0;
      do {
        chars += parts[to * 3 + 2].length;
        to++;
      } while (to < count && chars < DRAIN_CHARS);
      const payload = parts.slice(from * 3, to * 3).join('\n');
      if (this.#kind === 'memory') {
        // Acknowledged already: the engine takes them on the thread pool while this
        // thread goes on (src/binding/core.rs). It refuses the call only once an
        // acknowledged save was lost; the store then refuses every call until reset().
        try {
          this.#backend.applyLater(payload)?.catch(noop);
        } catch (e) {
          this.#refusal = () => fromNative(e);
          throw this.#refusal();
        }
        from = to;
        continue;
      }
      let refusals;
      try {
        refusals = this.#backend.apply(payload);
      } catch (e) {
        this.#recount();
        // Every save not yet applied is refused with this error; a store that takes no
        // writes refuses every later save in its call.
        const error = fromNative(e);
        group.failures ??= new Map();
        for (let slot = from; slot < count; slot++) group.failures.set(slot, error);
        if (e && (e.code === CLOSED || e.code === WRITE_FAILED)) this.refuse(e);
        return;
      }
      if (refusals.length > 0) this.#refused(group, from, refusals);
      from = to;
    }
    if (this.#kind === 'memory') this.#safe();
  }

  /** Tells `onSafe` of everything the engine holds (memory: acknowledged, file: written). */
  #safe() {
    const streams = this.#streamIds;
    this.#streamIds = [];
    this.#onSafe(this.#messages, streams);
  }

  /** Saves the engine refused (`{ index, code, message }`, indexes from `offset` on), for a file store. */
  #refused(group, offset, refusals) {
    this.#recount();
    group.failures ??= new Map();
    for (const r of refusals) group.failures.set(offset + r.index, fromNative(r));
  }

  /** After a refusal, what the queue assumed may be wrong: ask the engine. */
  #recount() {
    this.#revisions.clear();
    try {
      this.#messages = this.#backend.count();
    } catch {
      // A closed store: it takes no saves anyway.
    }
  }

  /** Server: runs `op` once every call made before it is done; closes the group of saves (turns.js). */
  turn(op) {
    return this.#turns.turn(op);
  }

  /** Server: runs a read once the changes called before it are done (turns.js). */
  read(op) {
    return this.#turns.read(op);
  }

  /** Memory and file: a history was imported (history.js): count again, and tell `onSafe` (streams unknown). */
  imported() {
    this.#recount();
    this.#streamIds = [];
    this.#onSafe(this.#messages, null);
  }

  /** A session was created (its stream too): the revisions kept may be stale. */
  changed() {
    this.#revisions.clear();
  }

  /** Throws what a save would be refused for in REFUSING. */
  assertWritable() {
    if (this.#refusal !== null) throw this.#refusal();
  }

  /** After a save made directly (memory and file, debug logging): the stream's new revision. */
  savedDirectly(streamId, n, revision) {
    this.#messages += n;
    this.#remember(streamId, revision);
    this.#streamIds.push(streamId);
    if (this.#kind === 'memory') this.#safe();
  }

  /**
   * A call into the engine failed with `nativeError`. For a memory store a failed
   * write means an acknowledged save was lost (src/binding/core.rs): REFUSING, so
   * that no save is acknowledged again until `reset()`.
   */
  failedCall(nativeError) {
    if (this.#kind === 'memory' && nativeError && nativeError.code === WRITE_FAILED) this.refuse(nativeError);
  }

  /** Enters REFUSING: every later save gets the error `nativeError` (`{ code, message }`) makes. */
  refuse(nativeError) {
    const { code, message } = nativeError;
    this.#refusal ??= () => fromNative({ code, message });
  }

  /**
   * Empties the store's view: the queue (already applied, the store drains it first),
   * what it knew of revisions, and, for memory, a refusal (the store is empty and
   * whole again).
   */
  reset() {
    if (this.#soon !== null) clearImmediate(this.#soon);
    this.#soon = null;
    this.#parts = [];
    this.#count = 0;
    this.#chars = 0;
    this.#revisions.clear();
    this.#messages = 0;
    this.#streamIds = [];
    if (this.#kind === 'memory') this.#refusal = null;
  }

  /**
   * File: the write that will hold the changes made until it starts, a promise. It
   * starts in a microtask after the current turn's code, or once the write under way
   * is done. Memory: nothing. Server: every change is written in its own turn.
   */
  written() {
    if (this.#kind !== 'file') return undefined;
    if (this.#next === null) {
      const after = this.#current === null ? Promise.resolve() : this.#current.then(noop, noop);
      this.#next = after.then(() => {
        this.#next = null;
        this.#current = this.#write();
        return this.#current;
      });
    }
    return this.#next;
  }

  #write() {
    try {
      this.drain();
    } catch {
      // Refused saves carry their own errors; the write goes on for the rest.
    }
    let task;
    // What this write holds: every message the engine has now.
    const through = this.#messages;
    const streams = this.#streamIds;
    this.#streamIds = [];
    try {
      if (!this.#backend.syncWrites) {
        this.#backend.commit();
        this.#onSafe(through, streams);
        return Promise.resolve();
      }
      task = this.#backend.commitLater();
    } catch (e) {
      return Promise.reject(this.#failed(e));
    }
    return task.then(
      () => this.#onSafe(through, streams),
      (e) => {
        throw this.#failed(e);
      },
    );
  }

  /** A failed write: the store refuses every save from now on, with the reason. */
  #failed(e) {
    const error = fromNative(e);
    if (e && e.code === WRITE_FAILED) {
      this.refuse({ code: WRITE_FAILED, message: `writes are refused since an earlier write failed (${e.message}); reopen the file` });
    }
    return error;
  }

  /** Waits until no write is due or under way (IDLE), and (server) every call made before is done. */
  async idle() {
    if (this.#turns !== null) {
      this.#turns.close();
      await this.#turns.quiet;
      return;
    }
    while (this.#next !== null || this.#current !== null) {
      const pending = this.#next ?? this.#current;
      await pending.then(noop, noop);
      if (pending === this.#current) this.#current = null;
    }
  }

  #call(fn) {
    try {
      return fn();
    } catch (e) {
      throw fromNative(e);
    }
  }
}

module.exports = { WriteScheduler };
