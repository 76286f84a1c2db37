'use strict';

// The stores: upstream's async API over the native engine. Each method checks its
// arguments and does its work synchronously inside the call (the `async` only wraps
// the result in a promise), so operations take effect in the order JavaScript calls
// them, exactly as upstream's do, and a bad argument becomes a rejected promise.
//
// One exception, invisible from outside: a `saveMessage` without `expectedRevision`
// is checked and turned into JSON at once, but handed to the engine together with the
// others of the same turn (one native call instead of one each), in a microtask after
// it or before the store's next call into the engine, whichever comes first. Every
// read, every `expectedRevision` check and every other change therefore still sees
// every save made before it.
//
// `MemoryMessageStore` and `SqliteMessageStore` are the same class over two kinds of
// native store. The SQLite one also writes to its file: every change made in one turn
// of the event loop is written in one transaction (group commit) in a microtask after
// it, and the promises of those changes resolve only once that transaction is safe.

const createDebug = require('debug');
const check = require('./validate');
const revive = require('./revive');
const { fromNative } = require('./errors');

const noop = () => {};

/** How many characters of message text one `saveMany` call takes at most (see `#drain`). */
const DRAIN_CHARS = 32 << 20;

/**
 * Builds the classes over a native module (`binding.js`): its functions take the
 * store's handle first.
 */
function createStores(native) {
  class MessageStore {
    #store;
    #debug;
    /** Whether changes go to a file, and so resolve only once written. */
    #durable;
    /** Whether each write is synced to the disk: it then runs off the event loop. */
    #sync;
    /** The write of the changes made since the last write started, shared by their promises. */
    #next = null;
    /** The write under way. */
    #current = null;
    /** Queued saves (see the top of this file): three strings each, as `saveMany` takes them. */
    #queue = [];
    /** The queued saves' group: `{ count, done, resolve, failures }`, or null when none is queued. */
    #group = null;

    constructor(handle, durability, debug) {
      this.#store = handle;
      this.#durable = durability !== null;
      this.#sync = durability === 'power';
      this.#debug = debug;
    }

    /**
     * What a change returns: nothing for memory; for a file, the write that will hold
     * it. The write starts in a microtask after the current turn's code, or once the
     * write under way is done: every change made meanwhile shares one transaction.
     */
    #written() {
      if (!this.#durable) return undefined;
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
      this.#drain();
      if (!this.#sync) {
        try {
          native.flush(this.#store);
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(fromNative(e));
        }
      }
      let task;
      try {
        task = native.flushAsync(this.#store);
      } catch (e) {
        return Promise.reject(fromNative(e));
      }
      return task.then(noop, (e) => {
        throw fromNative({ code: 'ERR_MESSAGE_STORE_WRITE_FAILED', message: e && e.message });
      });
    }

    /** Waits for every write started or due. */
    async #settled() {
      while (this.#next !== null || this.#current !== null) {
        const pending = this.#next ?? this.#current;
        await pending.then(noop, noop);
        if (pending === this.#current) this.#current = null;
      }
    }

    async saveMessage(streamId, message, expectedRevision, messageType) {
      const stream = check.name('streamId', streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.message(message, 'message', now), 'message');
      // With debug logging on, each save logs in its place: no queue.
      if (expected !== undefined || this.#debug.enabled) {
        this.#save(streamId, stream, text, false, 1, expectedRevision, expected, kind, now);
        return this.#written();
      }
      const group = this.#enqueue(stream, text, kind, now);
      const slot = group.count++;
      let writeError = null;
      try {
        await group.done;
      } catch (e) {
        writeError = e;
      }
      // A save the engine refused reports its own error, even when the write failed too.
      const refused = group.failures?.get(slot);
      if (refused !== undefined) throw refused;
      if (writeError !== null) throw writeError;
    }

    /**
     * Queues a save for the next `#drain`; returns its group, whose `done` settles once
     * the group is in the engine and, for a file, written (the write drains first).
     */
    #enqueue(stream, text, kind, now) {
      let group = this.#group;
      if (group === null) {
        group = { count: 0, done: null, resolve: noop, failures: null };
        if (this.#durable) {
          // Due from now, as for a direct save, so that a `dispose()` in the same turn waits for it.
          group.done = this.#written();
        } else {
          group.done = new Promise((resolve) => {
            group.resolve = resolve;
          });
        }
        this.#group = group;
        queueMicrotask(() => this.#drain());
      }
      this.#queue.push(kind === undefined ? `-${now}` : `${kind[0]}${now}`, stream, text);
      return group;
    }

    /**
     * Hands the queued saves to the engine, in order, each on its own: one that fails
     * rejects alone (with the error a direct save would give), and the rest go on.
     * Called before every other call into the engine.
     */
    #drain() {
      const group = this.#group;
      if (group === null) return;
      const parts = this.#queue;
      this.#group = null;
      this.#queue = [];
      let from = 0;
      while (from < group.count) {
        // At most about DRAIN_CHARS a call, so that the joined text stays far below
        // the longest string V8 can make, however large the messages.
        let to = from;
        let chars = 0;
        do {
          chars += parts[to * 3 + 2].length;
          to++;
        } while (to < group.count && chars < DRAIN_CHARS);
        try {
          native.saveMany(this.#store, parts.slice(from * 3, to * 3).join('\n'));
          from = to;
        } catch (e) {
          const failed = from + native.saveManyDone(this.#store);
          if (group.failures === null) group.failures = new Map();
          group.failures.set(failed, fromNative(e));
          from = failed + 1;
        }
      }
      group.resolve();
    }

    async saveMessages(streamId, messages, expectedRevision, messageType) {
      const stream = check.name('streamId', streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.messages(messages, now), 'messages');
      this.#save(streamId, stream, text, true, messages.length, expectedRevision, expected, kind, now);
      return this.#written();
    }

    #save(streamId, stream, text, batch, n, expectedRevision, expected, kind, now) {
      this.#drain();
      if (this.#debug.enabled) this.#debug('Saving %d messages to stream: %s', n, streamId);
      let revision;
      try {
        revision = native.save(this.#store, stream, text, batch, expected, kind, now);
      } catch (e) {
        throw fromNative(e, {
          streamId,
          expectedRevision,
          actualRevision: () => native.streamRevision(this.#store, stream),
        });
      }
      if (this.#debug.enabled) this.#debug('Saved %d messages to stream %s, new revision: %s', n, streamId, String(revision));
    }

    async getMessages(streamId, fromRevision, count) {
      const stream = check.name('streamId', streamId);
      const from = check.optionalInteger('fromRevision', fromRevision);
      const limit = check.count(count);
      return this.#read(() => native.readStream(this.#store, stream, from, limit));
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
      const limit = check.count(count);
      if (sessionId === '' || wire === check.NEVER) return [];
      return this.#read(() => native.query(this.#store, wire, limit));
    }

    #query(wire, count) {
      const limit = check.count(count);
      if (wire === check.NEVER) return [];
      return this.#read(() => native.query(this.#store, wire, limit));
    }

    // The first page comes from `start`; the rest are fetched in the same synchronous
    // loop, so no other call can run in between.
    #read(start) {
      const first = this.#call(start);
      return revive.messages(first, () => this.#call(() => native.nextPage(this.#store)));
    }

    /**
     * A stream's messages as one JSON string: `JSON.stringify` of what `getMessages`
     * returns, with `revision` and `position` as decimal strings. No objects are built.
     */
    async getMessagesJson(streamId, fromRevision, count) {
      const stream = check.name('streamId', streamId);
      const from = check.optionalInteger('fromRevision', fromRevision);
      const limit = check.count(count);
      return this.#call(() => native.readStreamJson(this.#store, stream, from, limit));
    }

    /** `getAllMessages` as one JSON string, in the shape of `getMessagesJson`. */
    async getAllMessagesJson(filter, count) {
      const wire = check.filter(filter);
      const limit = check.count(count);
      if (wire === check.NEVER) return '[]';
      return this.#call(() => native.queryJson(this.#store, wire, limit));
    }

    async getStreamInfo(streamId) {
      const stream = check.name('streamId', streamId);
      return revive.streamInfo(streamId, this.#call(() => native.streamInfo(this.#store, stream)));
    }

    async getStreams() {
      return JSON.parse(this.#call(() => native.streams(this.#store)));
    }

    async createSession() {
      const sessionId = this.#call(() => native.createSession(this.#store, Date.now()));
      this.#debug('Created new session: %s', sessionId);
      await this.#written();
      return sessionId;
    }

    async endSession(sessionId) {
      const id = check.name('sessionId', sessionId);
      this.#call(() => native.endSession(this.#store, id, Date.now()));
      this.#debug('Ended session: %s', sessionId);
      return this.#written();
    }

    async getSessions() {
      return revive.sessions(this.#call(() => native.sessions(this.#store)));
    }

    async getSessionInfo(sessionId) {
      const id = check.name('sessionId', sessionId);
      return revive.sessionInfo(this.#call(() => native.sessionInfo(this.#store, id)));
    }

    async getStats() {
      return revive.stats(this.#call(() => native.stats(this.#store)));
    }

    async reset() {
      this.#debug('Resetting message store');
      // A write under way finishes first (the file is locked meanwhile); one prepared
      // before the reset is dropped by the journal.
      this.#call(() => native.reset(this.#store));
    }

    /** Memory: empties the store, which stays usable. File: writes what is pending and closes it. */
    async dispose() {
      this.#debug('Disposing message store');
      if (!this.#durable) {
        this.#call(() => native.reset(this.#store));
        return;
      }
      await this.#settled();
      this.#call(() => native.close(this.#store));
    }

    #call(fn) {
      this.#drain();
      try {
        return fn();
      } catch (e) {
        throw fromNative(e);
      }
    }
  }

  const memoryDebug = createDebug('auto:message-store:memory');
  const sqliteDebug = createDebug('auto:message-store:sqlite');

  /** The in-memory store, kept off the JavaScript heap by the native engine. */
  class MemoryMessageStore extends MessageStore {
    constructor() {
      super(native.create(), null, memoryDebug);
      memoryDebug('MemoryMessageStore initialized.');
    }
  }

  /**
   * The same store, kept in a SQLite file: opened (or created) synchronously, rebuilt
   * from the file, and every change written before its promise resolves.
   */
  class SqliteMessageStore extends MessageStore {
    constructor(path, options) {
      const durability = check.sqliteOptions(options);
      if (typeof path !== 'string' || path === '') {
        throw new TypeError(`path must be a non-empty string, got ${check.describe(path)}`);
      }
      let handle;
      try {
        handle = native.openSqlite(path, durability);
      } catch (e) {
        throw fromNative(e);
      }
      super(handle, durability ?? 'process', sqliteDebug);
      sqliteDebug('SqliteMessageStore opened %s (durability %s).', path, durability ?? 'process');
    }
  }

  return { MemoryMessageStore, SqliteMessageStore };
}

module.exports = { createStores };
