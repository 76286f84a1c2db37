'use strict';

// `MemoryMessageStore`: upstream's async API over the native engine. Each method
// does all of its work synchronously inside the call (the `async` only wraps the
// result in a promise), so operations take effect in the order JavaScript calls them,
// exactly as upstream's do, and a bad argument becomes a rejected promise.

const createDebug = require('debug');
const check = require('./validate');
const revive = require('./revive');
const { fromNative } = require('./errors');

const debug = createDebug('auto:message-store:memory');

/**
 * Builds the class over a native module (`binding.js`): its functions take the store's
 * handle first. Tests pass a differently built module through the same loader.
 */
function createMemoryMessageStore(native) {
  class MemoryMessageStore {
    #store = native.create();

    constructor() {
      debug('MemoryMessageStore initialized.');
    }

    async saveMessage(streamId, message, expectedRevision, messageType) {
      const stream = check.name('streamId', streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.message(message, 'message', now), 'message');
      this.#save(streamId, stream, text, false, 1, expectedRevision, expected, kind, now);
    }

    async saveMessages(streamId, messages, expectedRevision, messageType) {
      const stream = check.name('streamId', streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.messages(messages, now), 'messages');
      this.#save(streamId, stream, text, true, messages.length, expectedRevision, expected, kind, now);
    }

    #save(streamId, stream, text, batch, n, expectedRevision, expected, kind, now) {
      if (debug.enabled) debug('Saving %d messages to stream: %s', n, streamId);
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
      if (debug.enabled) debug('Saved %d messages to stream %s, new revision: %s', n, streamId, String(revision));
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
      debug('Created new session: %s', sessionId);
      return sessionId;
    }

    async endSession(sessionId) {
      const id = check.name('sessionId', sessionId);
      this.#call(() => native.endSession(this.#store, id, Date.now()));
      debug('Ended session: %s', sessionId);
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
      debug('Resetting message store');
      this.#call(() => native.reset(this.#store));
    }

    async dispose() {
      debug('Disposing message store');
      this.#call(() => native.reset(this.#store));
    }

    #call(fn) {
      try {
        return fn();
      } catch (e) {
        throw fromNative(e);
      }
    }
  }

  return MemoryMessageStore;
}

module.exports = { createMemoryMessageStore };
