'use strict';

// The stores: upstream's async API over the native engine. Each method checks its
// arguments and does its work synchronously inside the call (the `async` only wraps
// the result in a promise), so operations take effect in the order JavaScript calls
// them, exactly as upstream's do, and a bad argument becomes a rejected promise.
//
// Saves are checked and turned into JSON in the call, then handed to the write
// scheduler (scheduler.js), which batches them into the engine before anything else
// reaches it and, for a file, writes them in one transaction per turn.
//
// Reads hand out the objects kept by the cache (cache.js) and build only the
// messages it lacks; what they return is immutable and shared.
//
// `MemoryMessageStore` and `SqliteMessageStore` are the same class over two kinds of
// native store.

const v8 = require('node:v8');
const createDebug = require('debug');
const check = require('./validate');
const revive = require('./revive');
const { ObjectCache, defaultBound } = require('./cache');
const { WriteScheduler } = require('./scheduler');
const { fromNative } = require('./errors');
const subscription = require('./subscription');

const { Feed, Subscription, resetError } = subscription;

/** Stream names seen by saves, as their JSON literals; past this the map starts again. */
const MAX_LITERALS = 4096;

/**
 * Builds the classes over a native module (lib/native.js loads it): its functions take the
 * store's handle first.
 */
function createStores(native) {
  class MessageStore {
    #store;
    #debug;
    #durable;
    /** @type {WriteScheduler} */
    #writes;
    /** @type {ObjectCache} */
    #cache;
    #literals = new Map();
    /**
     * The stream ids `getStreams` gave last, and as a set; null once a stream may have
     * been added (a save to a stream not in it, a session) or the store was reset.
     */
    #streams = null;
    #streamSet = null;
    /** Strings the kept messages share (revive.js). */
    #strings = new Map();
    /** The open subscriptions, and the head they read up to (subscription.js). */
    #feed = new Feed();

    constructor(handle, durability, debug, cacheBytes) {
      this.#store = handle;
      this.#durable = durability !== null;
      this.#debug = debug;
      const messages = this.#durable ? JSON.parse(native.stats(handle)).totalMessages : 0;
      this.#feed.head = messages;
      this.#writes = new WriteScheduler(native, handle, {
        durable: this.#durable,
        sync: durability === 'power',
        messages,
        onSafe: (head, streams) => this.#feed.advance(head, streams),
      });
      this.#cache = new ObjectCache(cacheBytes ?? defaultBound(v8.getHeapStatistics().heap_size_limit));
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
      const stream = this.#literal(streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.message(message, 'message', now), 'message');
      return this.#save(streamId, stream, text, false, 1, expectedRevision, expected, kind, now, check.settled(message));
    }

    async saveMessages(streamId, messages, expectedRevision, messageType) {
      const stream = this.#literal(streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const checked = check.messages(messages, now);
      // One message (the message bus's own call) is saved as a single one: less text to write and read.
      if (checked.length === 1) {
        const text = check.stringify(checked[0], 'messages');
        return this.#save(streamId, stream, text, false, 1, expectedRevision, expected, kind, now, check.settled(messages[0]));
      }
      const text = check.stringify(checked, 'messages');
      return this.#save(
        streamId,
        stream,
        text,
        true,
        messages.length,
        expectedRevision,
        expected,
        kind,
        now,
        messages.every(check.settled),
      );
    }

    /**
     * A save whose text is certain to be a message (`settled`) goes to the write
     * scheduler; any other is made in its place, so that the engine refuses it in the
     * call if it must, and so is each save with debug logging on, to log its revision.
     */
    #save(streamId, stream, text, batch, n, expectedRevision, expected, kind, now, settled) {
      if (this.#streams !== null && !this.#streamSet.has(streamId)) this.#streams = null;
      if (settled && !this.#debug.enabled) {
        return this.#writes.save(streamId, stream, text, batch, n, expected, expectedRevision, kind, now);
      }
      this.#writes.flush();
      this.#writes.assertWritable();
      this.#debug('Saving %d messages to stream: %s', n, streamId);
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
        this.#writes.flush();
        return this.#feed.head;
      },
      positionOf: async (literal, revision) => this.#call(() => native.streamPosition(this.#store, literal, revision)),
      read: async (wire, from, upTo, limit) => {
        let runs;
        const messages = this.#read(() => {
          runs = native.followRuns(this.#store, wire, from, upTo, limit);
          return runs;
        });
        // A full page reads through its last record (runs end exclusive: its position).
        return { messages, through: messages.length < limit ? upTo : runs[runs.length - 1] };
      },
    };

    async getMessages(streamId, fromRevision, count) {
      const stream = check.name('streamId', streamId);
      const from = check.optionalInteger('fromRevision', fromRevision);
      const limit = check.count(count);
      return this.#read(() => native.readStreamRuns(this.#store, stream, from, limit));
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
      return this.#read(() => native.queryRuns(this.#store, wire, limit));
    }

    #query(wire, count) {
      const limit = check.count(count);
      if (wire === check.NEVER) return [];
      return this.#read(() => native.queryRuns(this.#store, wire, limit));
    }

    /**
     * `runs()` names the records the read returns; the cache hands out those it keeps
     * and the rest are built (in pages fetched in one synchronous loop, so no other
     * call runs in between) and kept, within the bound.
     */
    #read(runs) {
      const records = this.#call(runs);
      const cache = this.#cache;
      const missing = cache.missing(records);
      if (missing.length > 0) {
        const first = this.#call(() => native.build(this.#store, new Uint32Array(missing)));
        revive.messagesInto(cache, this.#strings, first, () => this.#call(() => native.nextPage(this.#store)));
      }
      const out = cache.collect(records);
      cache.trim();
      return out;
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
      return revive.streamInfo(
        streamId,
        this.#call(() => native.streamInfo(this.#store, stream)),
      );
    }

    async getStreams() {
      if (this.#streams === null) {
        this.#streams = JSON.parse(this.#call(() => native.streams(this.#store)));
        this.#streamSet = new Set(this.#streams);
      } else {
        this.#writes.flush();
      }
      return this.#streams.slice();
    }

    async createSession() {
      const sessionId = this.#call(() => native.createSession(this.#store, Date.now()));
      this.#writes.changed();
      this.#streams = null;
      this.#debug('Created new session: %s', sessionId);
      await this.#writes.written();
      return sessionId;
    }

    async endSession(sessionId) {
      const id = check.name('sessionId', sessionId);
      this.#call(() => native.endSession(this.#store, id, Date.now()));
      this.#debug('Ended session: %s', sessionId);
      return this.#writes.written();
    }

    async getSessions() {
      return revive.sessions(this.#call(() => native.sessions(this.#store)));
    }

    async getSessionInfo(sessionId) {
      const id = check.name('sessionId', sessionId);
      return revive.sessionInfo(this.#call(() => native.sessionInfo(this.#store, id)));
    }

    async getStats() {
      const stats = revive.stats(this.#call(() => native.stats(this.#store)));
      // What the cache keeps is the store's memory too.
      stats.memoryUsage += Math.round(this.#cache.bytes);
      return stats;
    }

    async reset() {
      this.#debug('Resetting message store');
      // A write under way finishes first (the file is locked meanwhile); one prepared
      // before the reset is dropped by the journal.
      this.#clear();
      this.#feed.endAll(resetError);
    }

    /** Memory: empties the store, which stays usable. File: writes what is pending and closes it. */
    async dispose() {
      this.#debug('Disposing message store');
      if (!this.#durable) {
        this.#clear();
        this.#feed.endAll(null);
        return;
      }
      await this.#writes.settled();
      this.#feed.endAll(null);
      this.#call(() => native.close(this.#store));
      this.#forget();
      try {
        native.stats(this.#store);
      } catch (closed) {
        // From now on each save is refused in its call with this error.
        this.#writes.refuse(closed);
      }
    }

    /** Empties the store, and everything kept about it. */
    #clear() {
      try {
        this.#writes.flush();
      } catch {
        // A memory store that refuses calls: reset() is how it starts again.
      }
      try {
        native.reset(this.#store);
      } catch (e) {
        throw fromNative(e);
      }
      this.#writes.reset();
      this.#forget();
    }

    /** Drops what the store kept of its messages: records are numbered again after this. */
    #forget() {
      this.#cache.clear();
      this.#strings.clear();
      this.#streams = null;
    }

    #call(fn) {
      this.#writes.flush();
      try {
        return fn();
      } catch (e) {
        this.#writes.failedCall(e);
        throw fromNative(e);
      }
    }
  }

  const memoryDebug = createDebug('auto:message-store:memory');
  const sqliteDebug = createDebug('auto:message-store:sqlite');

  /** The in-memory store, kept off the JavaScript heap by the native engine. */
  class MemoryMessageStore extends MessageStore {
    constructor(options) {
      const { cacheBytes } = check.storeOptions(options, false);
      super(native.create(), null, memoryDebug, cacheBytes);
      memoryDebug('MemoryMessageStore initialized.');
    }
  }

  /**
   * The same store, kept in a SQLite file: opened (or created) synchronously, rebuilt
   * from the file, and every change written before its promise resolves.
   */
  class SqliteMessageStore extends MessageStore {
    constructor(path, options) {
      const { durability, cacheBytes } = check.storeOptions(options, true);
      if (typeof path !== 'string' || path === '') {
        throw new TypeError(`path must be a non-empty string, got ${check.describe(path)}`);
      }
      let handle;
      try {
        handle = native.openSqlite(path, durability);
      } catch (e) {
        throw fromNative(e);
      }
      super(handle, durability ?? 'process', sqliteDebug, cacheBytes);
      sqliteDebug('SqliteMessageStore opened %s (durability %s).', path, durability ?? 'process');
    }
  }

  return { MemoryMessageStore, SqliteMessageStore };
}

module.exports = { createStores };
