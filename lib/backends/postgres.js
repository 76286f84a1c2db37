'use strict';

// The backend of `PostgresMessageStore`: a schema on a PostgreSQL server, shared by
// every process (and machine) that names it. The rules that involve other processes
// (positions, expected revisions, counters) are kept by PostgreSQL in one append
// function (src/postgres/schema.rs); this keeps what is per instance: the current
// session, and the loop that follows other processes' commits while a subscription
// is open. Every method resolves later; the face (store.js) runs them one after
// another in call order, through its write scheduler's turns.
//
// Reads return pages of messages (src/binding/page.rs) as text: nothing is kept, so
// each read builds its own objects (another process may reset the schema at any time,
// and a position would then name another message).
//
// Invariants:
// - a group of saves is stamped with the session current when it is sent, which is
//   after every call made before it (so an `endSession` not awaited still ends the
//   session before the next save);
// - each group carries a new batch id, so a group sent again after a lost reply is
//   applied once (the native side sends it again once, on a new connection).

const crypto = require('node:crypto');
const { CODES } = require('../errors');

/** How long the listening connection waits for a notification before it reads the head anyway (the fallback poll). */
const POLL_MS = 250;

const NO_SESSION = JSON.stringify('no-session');
const SESSION_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';

/** A session id of upstream's form: `session-<epoch ms>-<8 characters>`. */
function newSessionId(now) {
  let suffix = '';
  for (let i = 0; i < 8; i++) suffix += SESSION_CHARS[crypto.randomInt(SESSION_CHARS.length)];
  return `session-${now}-${suffix}`;
}

/** @typedef {import('../backend').Backend} Backend */

/** @implements {Backend} */
class PostgresBackend {
  /** @type {'server'} */
  kind = 'server';
  #pg;
  /** The current session's JSON literal, or null. */
  #session = null;
  /** Whether the loop that waits for other processes' commits runs (`watch`). */
  #watching = false;
  /** Tokens of this instance's resets not yet heard back on the channel. */
  #ownResets = new Set();

  /**
   * @param {typeof import('../../.tmp/binding')} native the loaded addon (lib/native.js)
   * @param {string} connectionString
   * @param {string} schema
   * @param {import('../../.tmp/binding').PgOptions} connect TLS and failover (validate.js `postgresOptions`)
   */
  constructor(native, connectionString, schema, connect) {
    this.#pg = new native.PgStore(connectionString, schema, connect);
  }

  /** Where it connects: `host:port, … (sslmode …)`, without user or password. */
  get target() {
    return this.#pg.target;
  }

  /** The native store, until `close`; after it every call is refused. */
  get #conn() {
    if (this.#pg === null) throw PostgresBackend.closed;
    return this.#pg;
  }

  /** What every call is refused with once the store is closed. */
  static closed = Object.freeze({
    code: CODES.Closed,
    message: 'the store is closed (disposed); make a new PostgresMessageStore to use it',
  });

  /**
   * Appends a group of saves (`{ header, literal, text }` each) in one transaction:
   * `{ refused, revisions }`, once it committed. Its messages are positioned just
   * after, and reach subscriptions through `watch`; a read waits for them.
   */
  async append(saves) {
    const session = this.#session ?? NO_SESSION;
    const payload = saves.map((s) => `${s.header}\n${s.literal}\n${session}\n${s.text}`).join('\n');
    return this.#conn.append(crypto.randomUUID(), payload);
  }

  async readStream(literal, from, limit) {
    return this.#conn.readStream(literal, from, limit);
  }
  async query(wire, limit) {
    return this.#conn.query(wire, limit);
  }
  async follow(wire, after, upTo, limit) {
    const text = await this.#conn.follow(wire, after, upTo, limit);
    const nl = text.indexOf('\n');
    return { rows: text.slice(nl + 1), through: Number(text.slice(0, nl)) };
  }
  async head() {
    return this.#conn.head();
  }
  async streamPosition(literal, revision) {
    return this.#conn.streamPosition(literal, revision);
  }
  async streamInfo(literal) {
    return this.#conn.streamInfo(literal);
  }
  async streams() {
    return this.#conn.streams();
  }
  async stats() {
    return this.#conn.stats();
  }
  async sessions() {
    return this.#conn.sessions();
  }
  async sessionInfo(literal) {
    return this.#conn.sessions(literal);
  }

  // History (history.js): exported a page at a time, imported a chunk of lines at a
  // time, each chunk checked whole and written in one transaction (src/postgres/history.rs).
  async historyHeader(after) {
    return this.#conn.historyHeader(after);
  }
  async historyPage(after, declared, last, streams, messagesOnly) {
    return this.#conn.historyPage(after, declared, last, streams, messagesOnly);
  }
  async importBegin(header, resume) {
    return this.#conn.importBegin(header, resume);
  }
  async importLines(header, text, firstLine) {
    return this.#conn.importLines(header, text, firstLine);
  }
  async importEnd(header) {
    return this.#conn.importEnd(header);
  }

  async createSession(now) {
    const id = newSessionId(now);
    const literal = JSON.stringify(id);
    await this.#conn.createSession(literal, now);
    this.#session = literal;
    return id;
  }
  async endSession(literal, now) {
    await this.#conn.endSession(literal, now);
    if (this.#session === literal) this.#session = null;
  }

  /** Empties the schema's tables, for every process that shares them. */
  async reset() {
    const token = crypto.randomUUID();
    // Tokens not heard back (no listener was connected) are dropped now and then.
    if (this.#ownResets.size >= 64) this.#ownResets.clear();
    this.#ownResets.add(token);
    await this.#conn.reset(token);
    this.#session = null;
  }

  /** Closes the connections. */
  async close() {
    const pg = this.#pg;
    if (pg === null) return;
    this.#pg = null;
    this.#session = null;
    await pg.close();
  }

  // Following other processes' commits, for subscriptions.

  /** Listens, then reads the head: a commit after that read wakes the listener. */
  async start() {
    await this.#conn.listen();
    return this.head();
  }

  /** No subscription is open any more: stop listening. */
  unlisten() {
    // It cannot fail: it only drops the listening connection.
    void this.#pg?.unlisten();
  }

  /**
   * While `feed` has subscriptions: waits for sequencing steps (a notification on the
   * schema's channel, naming the streams, or the poll) and moves its head, waking only
   * the subscriptions of the streams named when every step since the head is known.
   * A reset, announced or seen as the head going back, ends the open subscriptions
   * (`onReset`).
   */
  async watch(feed, onReset) {
    if (this.#watching) return;
    this.#watching = true;
    // The heads this loop read: one connection's reads, so they only go back on a reset.
    let heard = 0;
    try {
      while (feed.size > 0) {
        let news;
        try {
          news = JSON.parse(await this.#conn.waitHead(POLL_MS));
        } catch {
          // The server is away: try again after a poll; nothing is lost meanwhile.
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          continue;
        }
        const { head, from, streams, resets } = news;
        if (head < 0) continue;
        const foreign = resets.filter((t) => !this.#ownResets.delete(t));
        // The head went back: a reset, ours (heard now, or still on its way) or one
        // whose announcement this connection missed.
        const unheard = head < heard && resets.length === 0 && this.#ownResets.size === 0;
        if (foreign.length > 0 || unheard) onReset(head);
        else feed.advance(head, from === feed.head ? streams : null);
        heard = head;
      }
    } finally {
      this.#watching = false;
    }
  }
}

module.exports = { PostgresBackend };
