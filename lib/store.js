'use strict';

// The face: upstream's async API, written once over a backend (backend.js). The three
// classes users make (stores.js) are this class over the engine in this process
// (memory, or a SQLite file) or over a PostgreSQL schema.
//
// Every method checks its arguments in the call (a bad one becomes a rejected promise
// and changes nothing), then runs in call order:
// - over the engine, every call takes effect inside the call (the `async` only wraps
//   the result in a promise), exactly as upstream's do;
// - over a server, every call waits its turn after the calls before it (the write
//   scheduler's `turn`), so a read called after a save sees it.
// Saves are checked and turned into JSON in the call, then handed to the write
// scheduler (scheduler.js), which decides when they reach the backend and when each
// save's promise settles.
//
// Results: reads over the engine hand out the objects kept by the cache (cache.js) and
// build only the messages it lacks, so what they return is immutable and shared; reads
// over a server build every message they return (immutable too, not shared).
//
// A SQLite file opened read-only (`backend.readOnly`) is written by another process:
// every read first takes in what that writer committed (`#catchUp`), and while
// subscriptions are open the backend polls for it (`#tick`); a reset there ends them as
// a reset here would. Every change is refused in its call.

const v8 = require('node:v8');
const check = require('./validate');
const revive = require('./revive');
const { ObjectCache, defaultBound } = require('./cache');
const { WriteScheduler } = require('./scheduler');
const { fromNative } = require('./errors');
const subscription = require('./subscription');
const { NEVER } = require('./wire');
const history = require('./history');

const { Feed, Subscription, resetError } = subscription;

/** Stream names seen by saves, as their JSON literals; past this the map starts again. */
const MAX_LITERALS = 4096;

class MessageStore {
  /** @type {import('./backend').Backend} */
  #backend;
  /** Whether the backend answers in the call (the engine) rather than later (a server). */
  #inCall;
  #debug;
  /** @type {WriteScheduler} */
  #writes;
  /** @type {ObjectCache | null} The objects reads built and keep (engine only). */
  #cache;
  #literals = new Map();
  /**
   * The stream ids `getStreams` gave last, and as a set; null once a stream may have
   * been added (a save to a stream not in it, a session) or the store was reset.
   * Only over the engine: a server's streams are added by other processes too.
   */
  #streams = null;
  #streamSet = null;
  /** Strings the built messages share (revive.js). */
  #strings = new Map();
  /** The open subscriptions, and the head they read up to (subscription.js). */
  #feed = new Feed();
  /** Whether another process writes the store's file (read-only): reads catch up with it first. */
  #follows;

  /**
   * @param {import('./backend').Backend} backend
   * @param {{ debug: import('debug').Debugger, cacheBytes?: number }} options
   */
  constructor(backend, { debug, cacheBytes }) {
    this.#backend = backend;
    this.#inCall = backend.kind !== 'server';
    this.#follows = backend.readOnly === true;
    this.#debug = debug;
    let messages = 0;
    try {
      if (backend.kind === 'file') messages = backend.count();
    } catch (e) {
      throw fromNative(e);
    }
    this.#feed.head = messages;
    this.#writes = new WriteScheduler(backend, {
      messages,
      onSafe: (head, streams, from = this.#feed.head) => this.#feed.advance(head, from === this.#feed.head ? streams : null),
    });
    this.#cache = this.#inCall ? new ObjectCache(cacheBytes ?? defaultBound(v8.getHeapStatistics().heap_size_limit)) : null;
    if (backend.unlisten) this.#feed.onEmpty = () => backend.unlisten();
  }

  /** A stream id's JSON literal, remembered: most saves go to a stream saved to before. */
  #literal(streamId) {
    if (typeof streamId !== 'string') return check.name('streamId', streamId);
    let literal = this.#literals.get(streamId);
    if (literal === undefined) {
      if (this.#literals.size >= MAX_LITERALS) this.#literals.clear();
      literal = JSON.stringify(streamId);
      this.#literals.set(streamId, literal);
    }
    return literal;
  }

  async saveMessage(streamId, message, expectedRevision, messageType) {
    this.#assertWritable();
    const stream = this.#literal(streamId);
    const expected = check.expectedRevision(expectedRevision);
    const kind = check.messageType(messageType);
    const now = Date.now();
    const text = check.stringify(check.message(message, 'message', now), 'message');
    return this.#save(streamId, stream, text, false, 1, expectedRevision, expected, kind, now, check.stable(message));
  }

  async saveMessages(streamId, messages, expectedRevision, messageType) {
    this.#assertWritable();
    const stream = this.#literal(streamId);
    const expected = check.expectedRevision(expectedRevision);
    const kind = check.messageType(messageType);
    const now = Date.now();
    const checked = check.messages(messages, now);
    // One message (the message bus's own call) is saved as a single one: less text to write and read.
    if (checked.length === 1) {
      const text = check.stringify(checked[0], 'messages');
      return this.#save(streamId, stream, text, false, 1, expectedRevision, expected, kind, now, check.stable(messages[0]));
    }
    const text = check.stringify(checked, 'messages');
    const stable = messages.every(check.stable);
    return this.#save(streamId, stream, text, true, messages.length, expectedRevision, expected, kind, now, stable);
  }

  /**
   * A save whose text is certain to be a message (`stable`) goes to the write
   * scheduler, and so does every save to a server. Over the engine any other is made
   * in its place, so that the engine refuses it in the call if it must, and so is each
   * save with debug logging on, to log its revision (a server's comes with its commit).
   */
  #save(streamId, stream, text, batch, n, expectedRevision, expected, kind, now, stable) {
    if (this.#streams !== null && !this.#streamSet.has(streamId)) this.#streams = null;
    if (!this.#inCall) {
      // A server's save resolves to the stream's new revision once committed.
      const debug = this.#debug.enabled;
      if (debug) this.#debug('Saving %d messages to stream: %s', n, streamId);
      const saved = this.#writes.save(streamId, stream, text, batch, n, expected, expectedRevision, kind, now, stable);
      return saved.then((revision) => {
        if (debug) this.#debug('Saved %d messages to stream %s, new revision: %s', n, streamId, String(revision));
      });
    }
    if (stable && !this.#debug.enabled) {
      return this.#writes.save(streamId, stream, text, batch, n, expected, expectedRevision, kind, now, stable);
    }
    this.#writes.drain();
    this.#writes.assertWritable();
    this.#debug('Saving %d messages to stream: %s', n, streamId);
    let revision;
    try {
      revision = this.#backend.save(stream, text, batch, expected, kind, now);
    } catch (e) {
      throw fromNative(e, {
        streamId,
        expectedRevision,
        actualRevision: () => this.#backend.revision(stream),
      });
    }
    this.#writes.savedDirectly(streamId, n, revision);
    this.#debug('Saved %d messages to stream %s, new revision: %s', n, streamId, String(revision));
    return this.#writes.written();
  }

  /**
   * Every message after `afterPosition` that `filter` lets through, then each new one
   * once it is safe (subscription.js).
   */
  subscribe(options) {
    return new Subscription(this.#feed, this.#source, subscription.request(options));
  }

  /** One stream's messages after `afterRevision`, then each new one once it is safe. */
  subscribeToStream(streamId, options) {
    return new Subscription(this.#feed, this.#source, subscription.streamRequest(streamId, options));
  }

  /** What subscriptions read through (subscription.js): the head is what is safe. */
  #source = {
    start: async () => {
      if (this.#inCall) {
        // A closed store refuses here; the head a subscription may read to is what is safe.
        this.#call(() => this.#backend.head());
        if (this.#follows) {
          this.#catchUp();
          if (this.#feed.size > 0) this.#backend.poll(this.#tick);
        }
        return this.#feed.head;
      }
      const head = await this.#read(() => this.#backend.start());
      this.#feed.advance(head, null);
      // Every subscription ended while this one waited for its turn: nothing to follow.
      if (this.#feed.size === 0) {
        this.#backend.unlisten();
        return head;
      }
      this.#backend.watch(this.#feed, (at) => this.#feed.endAll(resetError, at));
      return head;
    },
    positionOf: async (literal, revision) => this.#read(() => this.#backend.streamPosition(literal, revision)),
    read: async (wire, from, upTo, limit) =>
      this.#read(
        () => this.#backend.follow(wire, from, upTo, limit),
        ({ rows, through }) => ({ messages: this.#messages(rows), through }),
      ),
  };

  async getMessages(streamId, fromRevision, count) {
    const stream = check.name('streamId', streamId);
    const from = check.optionalInteger('fromRevision', fromRevision);
    const limit = check.count(count);
    return this.#read(() => this.#backend.readStream(stream, from, limit), this.#toMessages);
  }

  async getAllMessages(filter, count) {
    return this.#query(check.filter(filter), count);
  }

  async getAllCommands(filter, count) {
    return this.#query(check.filter(filter, { messageType: 'command' }), count);
  }

  async getAllEvents(filter, count) {
    return this.#query(check.filter(filter, { messageType: 'event' }), count);
  }

  async getSessionMessages(sessionId, filter, count) {
    check.name('sessionId', sessionId);
    const wire = check.filter(filter, { sessionId });
    return this.#query(sessionId === '' ? NEVER : wire, count);
  }

  #query(wire, count) {
    const limit = check.count(count);
    // Nothing can match: no read, but a closed store still refuses (`head` asks it).
    if (wire === NEVER)
      return this.#read(
        () => this.#backend.head(),
        () => [],
      );
    return this.#read(() => this.#backend.query(wire, limit), this.#toMessages);
  }

  #toMessages = (rows) => this.#messages(rows);

  /** The messages a read returned (revive.messagesOf): from the cache, built from pages as needed. */
  #messages(rows) {
    return revive.messagesOf(rows, this.#cache, this.#strings, this.#pages);
  }

  /** The engine's pages of records' messages, fetched in one synchronous loop: no other call runs in between. */
  #pages = {
    first: (records) => this.#call(() => this.#backend.build(records)),
    next: () => this.#call(() => this.#backend.nextPage()),
  };

  /**
   * A stream's messages as one JSON string: `JSON.stringify` of what `getMessages`
   * returns, with `revision` and `position` as decimal strings. Over the engine no
   * objects are built.
   */
  async getMessagesJson(streamId, fromRevision, count) {
    if (!this.#inCall) return revive.servingJson(await this.getMessages(streamId, fromRevision, count));
    const stream = check.name('streamId', streamId);
    const from = check.optionalInteger('fromRevision', fromRevision);
    const limit = check.count(count);
    if (this.#follows) this.#catchUp();
    return this.#call(() => this.#backend.readStreamJson(stream, from, limit));
  }

  /** `getAllMessages` as one JSON string, in the shape of `getMessagesJson`. */
  async getAllMessagesJson(filter, count) {
    if (!this.#inCall) return revive.servingJson(await this.getAllMessages(filter, count));
    const wire = check.filter(filter);
    const limit = check.count(count);
    if (this.#follows) this.#catchUp();
    if (wire === NEVER) {
      this.#call(() => this.#backend.head());
      return '[]';
    }
    return this.#call(() => this.#backend.queryJson(wire, limit));
  }

  async getStreamInfo(streamId) {
    const stream = check.name('streamId', streamId);
    return this.#read(
      () => this.#backend.streamInfo(stream),
      (text) => revive.streamInfo(streamId, text),
    );
  }

  async getStreams() {
    if (!this.#inCall) return this.#read(() => this.#backend.streams(), JSON.parse);
    if (this.#follows) this.#catchUp();
    if (this.#streams === null) {
      this.#streams = JSON.parse(this.#call(() => this.#backend.streams()));
      this.#streamSet = new Set(this.#streams);
    } else {
      this.#writes.drain();
    }
    return this.#streams.slice();
  }

  async createSession() {
    this.#assertWritable();
    // The time of the call, not of its turn.
    const now = Date.now();
    const sessionId = await this.#run(
      () => this.#backend.createSession(now),
      (id) => {
        this.#writes.changed();
        this.#streams = null;
        return id;
      },
    );
    this.#debug('Created new session: %s', sessionId);
    await this.#writes.written();
    return sessionId;
  }

  async endSession(sessionId) {
    this.#assertWritable();
    const id = check.name('sessionId', sessionId);
    const now = Date.now();
    await this.#run(() => this.#backend.endSession(id, now));
    this.#debug('Ended session: %s', sessionId);
    return this.#writes.written();
  }

  async getSessions() {
    return this.#read(() => this.#backend.sessions(), revive.sessions);
  }

  async getSessionInfo(sessionId) {
    const id = check.name('sessionId', sessionId);
    return this.#read(() => this.#backend.sessionInfo(id), revive.sessionInfo);
  }

  async getStats() {
    return this.#read(
      () => this.#backend.stats(),
      (text) => {
        const stats = revive.stats(text);
        // What the cache keeps is the store's memory too.
        if (this.#cache !== null) stats.memoryUsage += Math.round(this.#cache.bytes);
        return stats;
      },
    );
  }

  /**
   * (ours) The store's history as NDJSON text (docs/cli.md#the-history-format): a
   * header line, then every stream and every message after `after`, with the
   * positions, revisions, types, save times and sessions they have. The store as it is
   * at the first page: what is saved later is not in it.
   */
  exportHistory(options) {
    const { after } = check.exportOptions(options);
    if (this.#follows) this.#catchUp();
    return history.exportText((op) => this.#read(op), this.#backend, after);
  }

  /**
   * (ours) Writes a history (`exportHistory`'s text, as strings or UTF-8 bytes, e.g. a
   * file's stream) into this store, which must be empty; with `resume`, one that holds
   * the history's start, which is skipped. Each chunk is checked whole, then written
   * in one transaction. A failed import into an empty store leaves it empty.
   */
  async importHistory(source, options) {
    this.#assertWritable();
    const { resume, signal } = check.importOptions(options);
    if (source === null || typeof source !== 'object' || (!(Symbol.asyncIterator in source) && !(Symbol.iterator in source))) {
      throw new TypeError(`source must be an iterable of strings or bytes (a history's text), got ${check.describe(source)}`);
    }
    return history.importText({
      run: (op) => this.#run(op),
      backend: this.#backend,
      source,
      resume,
      signal,
      changed: () => {
        this.#streams = null;
        if (this.#inCall) this.#writes.imported();
      },
      undo: () => this.reset(),
    });
  }

  /**
   * (ours) SHA-256 of the history lines of the messages at positions 1 to `upTo` (all
   * when absent), and the last position read: equal for two stores of one history.
   */
  async historyDigest(upTo) {
    const last = check.optionalInteger('upTo', upTo);
    if (last !== undefined && last < 0) throw new TypeError(`upTo must be at least 0, got ${check.describe(upTo)}`);
    if (this.#follows) this.#catchUp();
    return history.digest((op) => this.#read(op), this.#backend, last === undefined ? undefined : Number(last));
  }

  /** Empties the store (for every process that shares a server's schema); open subscriptions end with an error. */
  async reset() {
    this.#assertWritable();
    this.#debug('Resetting message store');
    if (!this.#inCall) {
      // The subscriptions open at the call end, in the reset's turn; one opened after
      // the call starts after the reset, on the empty store.
      const open = this.#feed.snapshot();
      return this.#run(async () => {
        await this.#backend.reset();
        this.#feed.endAll(resetError, 0, open);
      });
    }
    // A write under way finishes first (the file is locked meanwhile); one prepared
    // before the reset is dropped by the journal.
    this.#clear();
    this.#feed.endAll(resetError);
  }

  /**
   * Memory: empties the store, which stays usable. File and server: writes what is
   * pending and closes the store; every later call is refused.
   */
  async dispose() {
    this.#debug('Disposing message store');
    if (this.#backend.kind === 'memory') {
      this.#clear();
      this.#feed.endAll(null);
      return;
    }
    if (this.#backend.kind === 'server') {
      return this.#run(async () => {
        this.#feed.endAll(null, this.#feed.head);
        await this.#backend.close();
        this.#refuseSaves();
      });
    }
    await this.#writes.idle();
    this.#feed.endAll(null);
    try {
      this.#call(() => this.#backend.close());
    } finally {
      // Closed even when its last commit failed: every later call is refused.
      this.#forget();
      this.#refuseSaves();
    }
  }

  /** After closing: each save is refused in its call with the error every other call gets. */
  #refuseSaves() {
    const refuse = (closed) => this.#writes.refuse(closed);
    try {
      const answer = this.#backend.stats();
      if (answer instanceof Promise) answer.catch(refuse);
    } catch (closed) {
      refuse(closed);
    }
  }

  /** Empties the store, and everything kept about it. */
  #clear() {
    try {
      this.#writes.drain();
    } catch {
      // A memory store that refuses calls: reset() is how it starts again.
    }
    try {
      this.#backend.reset();
    } catch (e) {
      throw fromNative(e);
    }
    this.#writes.reset();
    this.#forget();
  }

  /** Drops what the store kept of its messages: records are numbered again after this. */
  #forget() {
    this.#cache?.clear();
    this.#strings.clear();
    this.#streams = null;
  }

  /**
   * Runs `op` on the backend in call order, then `finish` on its result: in the call
   * over the engine, in its turn over a server. Failures become JavaScript errors here.
   */
  #run(op, finish) {
    if (this.#inCall) {
      const result = this.#call(op);
      return finish === undefined ? result : finish(result);
    }
    return this.#writes.turn(() => this.#settle(op, finish));
  }

  /**
   * A read-only store refuses every change in its call, with the native module's one
   * error for it (closed: the closed error), before its arguments are looked at.
   */
  #assertWritable() {
    if (this.#follows) this.#call(() => this.#backend.assertWritable());
  }

  /**
   * Read-only: takes in what the file's writer committed since the last look (when
   * nothing was, one `PRAGMA data_version`). After a reset there, what this store kept
   * is dropped and its subscriptions end as a reset here ends them.
   */
  #catchUp() {
    const change = this.#call(() => this.#backend.refresh());
    if (change === null || change === undefined) return;
    this.#streams = null;
    if (change.reset) {
      this.#forget();
      this.#writes.reset();
      this.#feed.endAll(resetError);
    }
    this.#feed.advance(change.head, null);
  }

  /** Read-only, while subscriptions are open: the poll (`backend.poll`). A file that cannot be read ends them with why. */
  #tick = () => {
    if (this.#feed.size === 0) {
      this.#backend.unlisten();
      return;
    }
    try {
      this.#catchUp();
    } catch (e) {
      this.#debug('Following the file failed: %s', e.message);
      this.#feed.endAll(() => e, this.#feed.head);
    }
  };

  /** `#run` for a read: over a server, it waits only for the changes called before it. */
  #read(op, finish) {
    if (this.#inCall) {
      if (this.#follows) this.#catchUp();
      return this.#run(op, finish);
    }
    return this.#writes.read(() => this.#settle(op, finish));
  }

  async #settle(op, finish) {
    let result;
    try {
      result = await op();
    } catch (e) {
      throw fromNative(e);
    }
    return finish === undefined ? result : finish(result);
  }

  /** Runs `op` on the engine now, after the saves queued before it. */
  #call(op) {
    this.#writes.drain();
    try {
      return op();
    } catch (e) {
      this.#writes.failedCall(e);
      throw fromNative(e);
    }
  }
}

module.exports = { MessageStore };
