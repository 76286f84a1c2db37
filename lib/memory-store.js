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

function createMemoryMessageStore(NativeStore) {
  class MemoryMessageStore {
    #native = new NativeStore();

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
        revision = this.#native.save(stream, text, batch, expected, kind, now);
      } catch (e) {
        throw fromNative(e, {
          streamId,
          expectedRevision,
          actualRevision: () => this.#native.streamRevision(stream),
        });
      }
      if (debug.enabled) debug('Saved %d messages to stream %s, new revision: %s', n, streamId, String(revision));
    }

    async getMessages(streamId, fromRevision, count) {
      const stream = check.name('streamId', streamId);
      const from = check.optionalInteger('fromRevision', fromRevision);
      const limit = check.count(count);
      return revive.messages(this.#call(() => this.#native.readStream(stream, from, limit)));
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
      return revive.messages(this.#call(() => this.#native.query(wire, limit)));
    }

    #query(wire, count) {
      const limit = check.count(count);
      if (wire === check.NEVER) return [];
      return revive.messages(this.#call(() => this.#native.query(wire, limit)));
    }

    async getStreamInfo(streamId) {
      const stream = check.name('streamId', streamId);
      return revive.streamInfo(streamId, this.#call(() => this.#native.streamInfo(stream)));
    }

    async getStreams() {
      return JSON.parse(this.#call(() => this.#native.streams()));
    }

    async createSession() {
      const sessionId = this.#call(() => this.#native.createSession(Date.now()));
      debug('Created new session: %s', sessionId);
      return sessionId;
    }

    async endSession(sessionId) {
      const id = check.name('sessionId', sessionId);
      this.#call(() => this.#native.endSession(id, Date.now()));
      debug('Ended session: %s', sessionId);
    }

    async getSessions() {
      return revive.sessions(this.#call(() => this.#native.sessions()));
    }

    async getSessionInfo(sessionId) {
      const id = check.name('sessionId', sessionId);
      return revive.sessionInfo(this.#call(() => this.#native.sessionInfo(id)));
    }

    async getStats() {
      return revive.stats(this.#call(() => this.#native.stats()));
    }

    async reset() {
      debug('Resetting message store');
      this.#call(() => this.#native.reset());
    }

    async dispose() {
      debug('Disposing message store');
      this.#call(() => this.#native.reset());
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
