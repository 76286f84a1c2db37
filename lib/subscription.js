'use strict';

// Live subscriptions (docs/behaviour.md#subscriptions): every stored message after a
// position that a filter lets through, then each new one once it is safe, in position
// order, each once.
//
// A subscription is pulled, never pushed: it reads a page from the store when its
// consumer asks for a message and the page it holds is used up (and, while catching up,
// as soon as that page is used up, to learn whether matches remain before the start's
// head: `caughtUp`; still one page at most). Nothing is ever queued
// per message for it, so a consumer that does not pull holds one page at most
// (`buffered`), however much is saved meanwhile; when it pulls again it reads on from
// its position, as it did while catching up (KurrentDB's server falls back to reading
// in the same way when a subscriber's live buffer overflows).
//
// Positions are dense (1, 2, 3, … with no gap, in every store), so "after position p"
// is the whole contract between a subscription and its store: the page source
// (`source.read`) reads matches in `(after, upTo]` and says how far it read, and the
// feed (one per store) knows the head, the last position a subscription may deliver:
// what was acknowledged (memory), written (SQLite) or committed (PostgreSQL).
//
// A subscription's states:
//   READY    open; pulling hands out the page held, or reads the next one.
//   PARKED   open, read through the feed's head, with a consumer waiting: the feed
//            wakes it (READY) when the head moves.
//   ENDED    closed (`close()`, `return()`, `break`, the signal, the store's
//            `dispose()`) or failed (a read's error, the store's `reset()`): pulls
//            give the failure once, then `done`. Nothing is held any more.
// Invariants:
// - `#position` is the position read through: every match at or before it was read
//   (handed out, or in `#page` from `#index` on), none after it;
// - what is handed out is in position order and never again: `#page` holds only
//   positions after the last one handed out;
// - at most one read is in flight (`#reading`); pulls wait in `#waiters`, in order;
// - a PARKED subscription is in its feed's parked set, no other is.

const { CODES } = require('./errors');
const check = require('./validate');
const { NEVER } = require('./wire');

/** Messages one read of a subscription takes at most: what a consumer that does not pull may hold. */
const PAGE = 1024;

const READY = 'ready';
const PARKED = 'parked';
const ENDED = 'ended';

const DONE = Object.freeze({ value: undefined, done: true });

/** The error open subscriptions end with when their store is reset: their positions are gone. */
function resetError() {
  const message = 'the store was reset: the subscription ended, since the positions it followed no longer exist';
  return Object.assign(new Error(message), { code: CODES.Reset });
}

/**
 * The subscriptions of one store and the head they may read up to. The store moves the
 * head (`advance`) once messages are safe; parked subscriptions are woken in a
 * microtask, never inside the store's own call. A subscription whose filter names one
 * stream parks under that stream's id and is woken only when the stream is saved to
 * (`advance` says which), so subscriptions waiting on other streams cost a save
 * nothing.
 */
class Feed {
  /** The last position a subscription may deliver. */
  head = 0;
  /** Called when the last open subscription ends (PostgreSQL stops listening). */
  onEmpty = null;
  #open = new Set();
  #parked = new Set();
  /** Parked subscriptions of one stream, by stream id; `#keyed` counts them. */
  #byStream = new Map();
  #keyed = 0;
  /** Streams saved to since the last wake, kept while some subscription is keyed; null: any. */
  #touched = new Set();
  #waking = false;
  #wake = () => {
    this.#waking = false;
    const woken = [...this.#parked];
    this.#parked.clear();
    const streams = this.#touched ?? [...this.#byStream.keys()];
    this.#touched = new Set();
    for (const stream of streams) {
      const subs = this.#byStream.get(stream);
      if (subs === undefined) continue;
      for (const s of subs) woken.push(s);
      this.#keyed -= subs.size;
      this.#byStream.delete(stream);
    }
    for (const s of woken) s._wake();
  };

  /**
   * Messages up to `head` are safe; `streams` are the ids of the streams they were
   * saved to (repeats allowed), or null when not known: wake who waits on them.
   */
  advance(head, streams) {
    // Positions already known were accounted for when the head passed them.
    if (head <= this.head) return;
    if (this.#keyed > 0 && this.#touched !== null) {
      if (streams === null) this.#touched = null;
      else {
        // Saves in a row mostly go to one stream: added once.
        let last;
        for (const s of streams) {
          if (s !== last) this.#touched.add(s);
          last = s;
        }
      }
    }
    this.head = head;
    if (!this.#waking && (this.#parked.size > 0 || this.#keyed > 0)) {
      this.#waking = true;
      queueMicrotask(this.#wake);
    }
  }

  get size() {
    return this.#open.size;
  }

  _opened(sub) {
    this.#open.add(sub);
  }

  _park(sub, stream) {
    if (stream === undefined) {
      this.#parked.add(sub);
      return;
    }
    let subs = this.#byStream.get(stream);
    if (subs === undefined) {
      subs = new Set();
      this.#byStream.set(stream, subs);
    }
    subs.add(sub);
    this.#keyed++;
  }

  _closed(sub, stream) {
    if (this.#open.delete(sub) && this.#open.size === 0) this.onEmpty?.();
    this.#parked.delete(sub);
    const subs = stream === undefined ? undefined : this.#byStream.get(stream);
    if (subs?.delete(sub)) {
      this.#keyed--;
      if (subs.size === 0) this.#byStream.delete(stream);
    }
  }

  /** The subscriptions open now (a reset ends these, and not those opened after it was called). */
  snapshot() {
    return new Set(this.#open);
  }

  /**
   * Ends every open subscription (or those of `only`, a `snapshot()`): cleanly (`error`
   * null) or with `error()`. The head starts again at `head`.
   */
  endAll(error, head = 0, only = null) {
    for (const s of [...(only ?? this.#open)]) s._end(error === null ? null : error());
    this.head = head;
  }
}

/** `subscribe(options)`'s arguments, checked in the call: what to read, where to start. */
function request(options) {
  const { afterPosition, filter, signal } = check.subscribeOptions(options);
  const wire = check.filter(filter);
  const stream = typeof filter?.streamId === 'string' ? filter.streamId : undefined;
  return { wire, stream, literal: undefined, signal, afterPosition: afterPosition ?? 0, afterRevision: undefined };
}

/** `subscribeToStream(streamId, options)`'s arguments, checked in the call. */
function streamRequest(streamId, options) {
  const literal = check.name('streamId', streamId);
  const { afterRevision, signal } = check.streamSubscribeOptions(options);
  return { wire: check.filter({ streamId }), stream: streamId, literal, signal, afterPosition: 0, afterRevision };
}

/**
 * One subscription: an async iterable (and iterator) of positional messages, for a
 * `request` (above). `source` is the store's part: `start()` resolves to its head
 * now; `positionOf(literal, revision)` to the position of a stream's message at a
 * revision, or null; `read(wire, after, upTo, limit)` to the first `limit` messages the
 * filter matches in `(after, upTo]`, ascending, and the position it read through
 * (`{ messages, through }`).
 */
class Subscription {
  #feed;
  #source;
  #request;
  /** The stream a keyed subscription parks under, or undefined. */
  #stream;
  #state = READY;
  #position = -1;
  #page = [];
  #index = 0;
  #reading = false;
  #waiters = [];
  /** The failure the next pull gets, once. */
  #failure = null;
  /** The head when the subscription started, once known; caught up past it. */
  #startHead = null;
  #caughtUp;
  #resolveCaughtUp;
  #isCaughtUp = false;
  #signal;
  #onAbort = null;

  constructor(feed, source, req) {
    const { stream, signal } = req;
    this.#feed = feed;
    this.#source = source;
    this.#request = req;
    this.#stream = stream;
    this.#caughtUp = new Promise((resolve) => {
      this.#resolveCaughtUp = resolve;
    });
    feed._opened(this);
    if (signal !== undefined) {
      this.#signal = signal;
      if (signal.aborted) {
        this._end(signal.reason);
        return;
      }
      this.#onAbort = () => this._end(signal.reason);
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /**
   * Resolves once every message stored when the subscription started (that its filter
   * lets through) has been handed to the consumer; also when the subscription ends
   * before that.
   */
  get caughtUp() {
    return this.#caughtUp;
  }

  /** Messages read from the store and not yet handed out: at most one page. */
  get buffered() {
    return this.#page.length - this.#index;
  }

  /** Whether the subscription has ended. */
  get closed() {
    return this.#state === ENDED;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next() {
    if (this.#waiters.length === 0 && this.#index < this.#page.length) {
      return Promise.resolve({ value: this.#handOut(), done: false });
    }
    if (this.#state === ENDED) return this.#endedPull();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#pump();
    });
  }

  /** What `break` out of `for await` calls: ends the subscription. */
  return() {
    this._end(null);
    return Promise.resolve(DONE);
  }

  /** Ends the subscription and releases what it holds; pulls after it give `done`. */
  close() {
    this._end(null);
    return Promise.resolve();
  }

  #endedPull() {
    const failure = this.#failure;
    if (failure === null) return Promise.resolve(DONE);
    this.#failure = null;
    return Promise.reject(failure);
  }

  #handOut() {
    const m = this.#page[this.#index];
    this.#page[this.#index++] = undefined;
    if (this.#index === this.#page.length) {
      this.#page = [];
      this.#index = 0;
    }
    if (!this.#isCaughtUp) this.#checkCaughtUp();
    return m;
  }

  /**
   * Caught up: every match up to the start's head is handed out. When the page held is
   * used up short of that head, whether more matches remain is known only by reading
   * on: the next page is read at once (one page, as a pull would), and checked then.
   */
  #checkCaughtUp() {
    if (this.#startHead === null) return;
    if (this.#index < this.#page.length) {
      if (this.#page[this.#index].position > this.#startHead) this.#markCaughtUp();
    } else if (this.#position >= this.#startHead) this.#markCaughtUp();
    else this.#pump();
  }

  #markCaughtUp() {
    if (this.#isCaughtUp) return;
    this.#isCaughtUp = true;
    // After the turn's microtasks: the consumer's code for the last message handed out
    // (a `for await` body) runs before code awaiting `caughtUp`.
    setImmediate(this.#resolveCaughtUp);
  }

  /** Serves the waiting pulls, reading pages as needed; one at a time. */
  async #pump() {
    if (this.#reading || this.#state === PARKED) return;
    this.#reading = true;
    try {
      if (this.#startHead === null) {
        const head = await this.#source.start();
        const after = await this.#startAfter(head);
        if (this.#state === ENDED) return;
        this.#position = after;
        this.#startHead = head;
        if (after >= head) this.#markCaughtUp();
      }
      // Reads while a pull waits, or while catching up with nothing held (to learn
      // whether matches remain before the start's head: `caughtUp`).
      while (this.#state !== ENDED && (this.#waiters.length > 0 || (!this.#isCaughtUp && this.#index === this.#page.length))) {
        if (this.#index < this.#page.length) {
          this.#waiters.shift().resolve({ value: this.#handOut(), done: false });
          continue;
        }
        const head = this.#feed.head;
        if (this.#position >= head) {
          if (this.#waiters.length === 0) return;
          this.#state = PARKED;
          this.#feed._park(this, this.#stream);
          return;
        }
        const { messages, through } = await this.#read(head);
        if (this.#state === ENDED) return;
        this.#page = messages;
        this.#index = 0;
        this.#position = through;
        if (!this.#isCaughtUp) this.#checkCaughtUp();
      }
    } catch (e) {
      this._end(e);
    } finally {
      this.#reading = false;
    }
  }

  /** The position to start after: the one asked for, or that of the revision asked for (not saved yet: the head). */
  async #startAfter(head) {
    const { afterPosition, afterRevision, literal } = this.#request;
    if (afterRevision === undefined) return afterPosition;
    if (afterRevision < 0) return 0;
    return (await this.#source.positionOf(literal, afterRevision)) ?? head;
  }

  /** The next page up to `head`; a stream's revisions not past the start are dropped. */
  async #read(head) {
    const { wire, afterRevision } = this.#request;
    if (wire === NEVER) return { messages: [], through: head };
    const page = await this.#source.read(wire, this.#position, head, PAGE);
    if (afterRevision === undefined) return page;
    return { messages: page.messages.filter((m) => m.revision > afterRevision), through: page.through };
  }

  /** The feed's head moved past this parked subscription. */
  _wake() {
    if (this.#state !== PARKED) return;
    this.#state = READY;
    this.#pump();
  }

  /** Ends the subscription: cleanly when `error` is null, otherwise the next pull rejects with it. */
  _end(error) {
    if (this.#state === ENDED) return;
    this.#state = ENDED;
    this.#feed._closed(this, this.#stream);
    if (this.#onAbort !== null) this.#signal.removeEventListener('abort', this.#onAbort);
    this.#onAbort = null;
    this.#page = [];
    this.#index = 0;
    this.#markCaughtUp();
    const waiters = this.#waiters;
    this.#waiters = [];
    if (error !== null && waiters.length === 0) this.#failure = error;
    for (const w of waiters) {
      if (error !== null) {
        w.reject(error);
        error = null;
      } else w.resolve(DONE);
    }
  }
}

module.exports = { Feed, Subscription, request, streamRequest, resetError, PAGE };
