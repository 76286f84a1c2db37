'use strict';

// PostgresMessageStore: the store on a PostgreSQL server, shared by every process (and
// machine) that names the same schema. The rules that involve other processes,
// positions, expected revisions and counters, are kept by PostgreSQL in one append
// function (src/postgres/schema.rs); this class keeps what is per instance: argument
// checks (the same as the other stores', before any round trip), call order and the
// current session.
//
// Call order: every call takes its turn after the one before (`#tail`), so a read
// called after a save sees it. Saves called one after another, with no other call in
// between, form one group (`#group`), sent in one round trip and one transaction when
// its turn comes; a group is closed by any other call, or when it starts.
//
// Invariants:
// - a save's promise settles only after the transaction that holds it committed (or
//   failed): it resolves when PostgreSQL returned its outcome;
// - each group carries a new batch id, so a group sent again after a lost reply is
//   applied once (the native side sends it again once, on a new connection).

const crypto = require('node:crypto');
const check = require('./validate');
const { fromNative, refusal } = require('./errors');
const revive = require('./revive');
const subscription = require('./subscription');

const { Feed, Subscription, resetError } = subscription;

/** How long the listening connection waits for a notification before it reads the head anyway (the fallback poll). */
const POLL_MS = 250;

const NO_SESSION = JSON.stringify('no-session');
const SESSION_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const noop = () => {};

/** A session id of upstream's form: `session-<epoch ms>-<8 characters>`. */
function newSessionId(now) {
  let suffix = '';
  for (let i = 0; i < 8; i++) suffix += SESSION_CHARS[crypto.randomInt(SESSION_CHARS.length)];
  return `session-${now}-${suffix}`;
}

/** The native side's answer: the text, or the error it encodes (`!<code>\n<message>`). */
function answer(text) {
  if (text.charCodeAt(0) !== 33) return text;
  const nl = text.indexOf('\n');
  throw fromNative({ code: text.slice(1, nl), message: text.slice(nl + 1) });
}

/** Builds the objects of a page of messages, in order (nothing is kept: the store's memory does not grow with it). */
function messagesOf(page, strings) {
  const out = [];
  revive.messagesInto({ put: (_i, m) => out.push(m) }, strings, page, () => null);
  return out;
}

/** `JSON.stringify` of positional messages with `revision` and `position` as decimal strings. */
function servingJson(messages) {
  return JSON.stringify(messages, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
}

function createPostgresStore(native) {
  class PostgresMessageStore {
    #native;
    #tail = Promise.resolve();
    #group = null;
    #session = null;
    #strings = new Map();
    /** The open subscriptions and the committed head they read up to (subscription.js). */
    #feed = new Feed();
    /** Whether the loop that waits for other processes' commits runs (`#watch`). */
    #watching = false;
    /** The last group of saves sent, settled or not (`#watch` lets it report its own commit). */
    #lastAppend = null;
    /** Tokens of this instance's resets not yet heard back on the channel. */
    #ownResets = new Set();

    /**
     * `connectionString` or `{ connectionString, schema = 'message_store', poolSize = 1 }`.
     * Does no I/O: the first call connects and creates the schema's tables if absent.
     */
    constructor(options) {
      const { connectionString, schema } = check.postgresOptions(options);
      this.#native = new native.PgStore(connectionString, schema);
      this.#feed.onEmpty = () => this.#native.unlisten();
    }

    /** Runs `fn` after every call made before; closes the group of saves. */
    #turn(fn) {
      this.#group = null;
      const p = this.#tail.then(fn);
      this.#tail = p.then(noop, noop);
      return p;
    }

    #save(streamId, expectedRevision, head, stream, text, settled, n) {
      return new Promise((resolve, reject) => {
        const line = `${head}\n${stream}\n${this.#session ?? NO_SESSION}\n${text}`;
        let group = this.#group;
        if (group === null) {
          group = { saves: [] };
          const p = this.#tail.then(() => this.#append(group));
          this.#tail = p.then(noop, noop);
          this.#lastAppend = this.#tail;
          this.#group = group;
        }
        group.saves.push({ streamId, expectedRevision, line, n, resolve, reject });
        // A message that might stringify differently from what was checked (a Proxy,
        // a getter) is sent alone, so that a refusal of it refuses nothing else.
        if (!settled) this.#group = null;
      });
    }

    async #append(group) {
      if (this.#group === group) this.#group = null;
      let outcome;
      try {
        outcome = JSON.parse(answer(await this.#native.append(crypto.randomUUID(), group.saves.map((s) => s.line).join('\n'))));
      } catch (e) {
        for (const s of group.saves) s.reject(e);
        return;
      }
      const refused = new Map(outcome.refused.map(([i, kind, actual]) => [i, [kind, actual]]));
      const streams = [];
      let added = 0;
      group.saves.forEach((s, i) => {
        const r = refused.get(i);
        if (r === undefined) {
          streams.push(s.streamId);
          added += s.n;
          s.resolve();
        } else {
          const actual = r[0] === 'StreamNotFound' ? null : r[1];
          s.reject(refusal(s.streamId, s.expectedRevision, check.expectedRevision(s.expectedRevision), actual));
        }
      });
      // Committed: everything up to `last` is visible to every reader. Which streams
      // that covers is known only when no other process committed in between.
      this.#feed.advance(outcome.last, outcome.last - added === this.#feed.head ? streams : null);
    }

    static #head(kind, batch, now, expected) {
      return `${kind === undefined ? '-' : kind}${batch ? 1 : 0}${now}${expected === undefined ? '' : ` ${expected}`}`;
    }

    async saveMessage(streamId, message, expectedRevision, messageType) {
      const stream = check.name('streamId', streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.message(message, 'message', now), 'message');
      const head = PostgresMessageStore.#head(kind, false, now, expected);
      return this.#save(streamId, expectedRevision, head, stream, text, check.settled(message), 1);
    }

    async saveMessages(streamId, messages, expectedRevision, messageType) {
      const stream = check.name('streamId', streamId);
      const expected = check.expectedRevision(expectedRevision);
      const kind = check.messageType(messageType);
      const now = Date.now();
      const text = check.stringify(check.messages(messages, now), 'messages');
      const head = PostgresMessageStore.#head(kind, true, now, expected);
      return this.#save(streamId, expectedRevision, head, stream, text, messages.every(check.settled), messages.length);
    }

    /** Every message after `afterPosition` that `filter` lets through, then each new one once committed. */
    subscribe(options) {
      return new Subscription(this.#feed, this.#source, subscription.request(options));
    }

    /** One stream's messages after `afterRevision`, then each new one once committed. */
    subscribeToStream(streamId, options) {
      return new Subscription(this.#feed, this.#source, subscription.streamRequest(streamId, options));
    }

    /** What subscriptions read through (subscription.js): the head is what is committed. */
    #source = {
      start: async () => {
        // Listening before the head is read: a commit after that read wakes it.
        answer(await this.#native.listen());
        const head = Number(answer(await this.#native.head()));
        this.#feed.advance(head, null);
        this.#watch();
        return head;
      },
      positionOf: async (literal, revision) => {
        const p = answer(await this.#native.streamPosition(literal, revision));
        return p === 'null' ? null : Number(p);
      },
      read: async (wire, from, upTo, limit) => {
        const text = answer(await this.#native.follow(wire, from, upTo, limit));
        const nl = text.indexOf('\n');
        return { messages: messagesOf(text.slice(nl + 1), this.#strings), through: Number(text.slice(0, nl)) };
      },
    };

    /**
     * While a subscription is open: waits for other processes' commits (a notification
     * on the schema's channel, or the poll) and moves the head. A reset, announced or
     * seen as the head going back, ends the open subscriptions.
     */
    async #watch() {
      if (this.#watching) return;
      this.#watching = true;
      // The heads this loop read: one connection's reads, so they only go back on a reset.
      let heard = 0;
      try {
        while (this.#feed.size > 0) {
          let words;
          try {
            words = answer(await this.#native.waitHead(POLL_MS)).split(' ');
          } catch {
            // The server is away: try again after a poll; nothing is lost meanwhile.
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
            continue;
          }
          const head = Number(words[0]);
          if (head < 0) continue;
          const tokens = words.slice(1);
          const foreign = tokens.filter((t) => !this.#ownResets.delete(t));
          // The head went back: a reset, ours (heard now, or still on its way) or one
          // whose announcement this connection missed.
          const unheard = head < heard && tokens.length === 0 && this.#ownResets.size === 0;
          if (foreign.length > 0 || unheard) this.#feed.endAll(resetError, head);
          else {
            // Likely our own commit, heard before its reply: the reply says which
            // streams it touched, so parked subscriptions of other streams sleep on.
            if (head > this.#feed.head && this.#lastAppend !== null) await this.#lastAppend;
            this.#feed.advance(head, null);
          }
          heard = head;
        }
      } finally {
        this.#watching = false;
      }
    }

    async getMessages(streamId, fromRevision, count) {
      const stream = check.name('streamId', streamId);
      const from = check.optionalInteger('fromRevision', fromRevision);
      const limit = check.count(count);
      return this.#turn(async () => messagesOf(answer(await this.#native.readStream(stream, from, limit)), this.#strings));
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
      if (sessionId === '') return this.#turn(() => []);
      return this.#query(wire, count);
    }

    #query(wire, count) {
      const limit = check.count(count);
      if (wire === check.NEVER) return this.#turn(() => []);
      return this.#turn(async () => messagesOf(answer(await this.#native.query(wire, limit)), this.#strings));
    }

    async getMessagesJson(streamId, fromRevision, count) {
      return servingJson(await this.getMessages(streamId, fromRevision, count));
    }

    async getAllMessagesJson(filter, count) {
      return servingJson(await this.getAllMessages(filter, count));
    }

    async getStreamInfo(streamId) {
      const stream = check.name('streamId', streamId);
      return this.#turn(async () => {
        const text = answer(await this.#native.streamInfo(stream));
        return revive.streamInfo(streamId, text === 'null' ? null : text);
      });
    }

    async getStreams() {
      return this.#turn(async () => JSON.parse(answer(await this.#native.streams())));
    }

    async createSession() {
      return this.#turn(async () => {
        const now = Date.now();
        const id = newSessionId(now);
        const literal = JSON.stringify(id);
        answer(await this.#native.createSession(literal, now));
        this.#session = literal;
        return id;
      });
    }

    async endSession(sessionId) {
      const id = check.name('sessionId', sessionId);
      return this.#turn(async () => {
        answer(await this.#native.endSession(id, Date.now()));
        if (this.#session === id) this.#session = null;
      });
    }

    async getSessions() {
      return this.#turn(async () => revive.sessions(answer(await this.#native.sessions())));
    }

    async getSessionInfo(sessionId) {
      const id = check.name('sessionId', sessionId);
      return this.#turn(async () => {
        const text = answer(await this.#native.sessions(id));
        return revive.sessionInfo(text === 'null' ? null : text);
      });
    }

    async getStats() {
      return this.#turn(async () => revive.stats(answer(await this.#native.stats())));
    }

    /** Empties the schema's tables, for every process that shares them. */
    async reset() {
      return this.#turn(async () => {
        const token = crypto.randomUUID();
        // Tokens not heard back (no listener was connected) are dropped now and then.
        if (this.#ownResets.size >= 64) this.#ownResets.clear();
        this.#ownResets.add(token);
        answer(await this.#native.reset(token));
        this.#session = null;
        this.#feed.endAll(resetError);
      });
    }

    /** Waits for every call made before, then closes the connection (a later call opens a new one). */
    async dispose() {
      return this.#turn(async () => {
        this.#feed.endAll(null, this.#feed.head);
        answer(await this.#native.close());
        this.#session = null;
      });
    }
  }

  return PostgresMessageStore;
}

module.exports = { createPostgresStore };
