'use strict';

// A server's side of the write scheduler (scheduler.js): the order of calls, and the
// groups of saves. Every call to a server waits its turn after the calls made before
// it (`turn`); the saves called one after another, with no other call in between, form
// one group, sent in one round trip and one transaction when its turn comes. A group is
// closed by any other call (`close`), when it is sent, or by a save that must go alone.
//
// Invariants:
// - `#tail` settles once every call made so far is done; a call runs after it;
// - at most one group is open (`#group`), and it has not been sent;
// - a save's promise settles only once the transaction that holds it committed (or
//   failed): with the server's outcome for it (resolved: the stream's new revision).

const { fromNative, refusal } = require('./errors');
const { expectedRevision: expectedNumber } = require('./validate');

const noop = () => {};

class Turns {
  /** @type {import('./backend').Backend} */
  #backend;
  #onSafe;
  #tail = Promise.resolve();
  /** The open group: `{ saves }`, or null. */
  #group = null;

  constructor(backend, onSafe) {
    this.#backend = backend;
    this.#onSafe = onSafe;
  }

  /**
   * Queues a save in the open group (or a new one, sent after every call before it);
   * one that is not `stable` goes alone, so that its refusal refuses nothing else.
   */
  save(streamId, header, literal, text, n, expectedRevision, stable) {
    if (!stable) this.#group = null;
    return new Promise((resolve, reject) => {
      let group = this.#group;
      if (group === null) {
        group = { saves: [] };
        this.#group = group;
        this.#after(() => this.#send(group));
      }
      group.saves.push({ streamId, expectedRevision, n, header, literal, text, resolve, reject });
      if (!stable) this.#group = null;
    });
  }

  /** Sends a group in one round trip; settles each save by the server's outcome. */
  async #send(group) {
    if (this.#group === group) this.#group = null;
    let outcome;
    try {
      outcome = await this.#backend.append(group.saves);
    } catch (e) {
      const error = fromNative(e);
      for (const s of group.saves) s.reject(error);
      return;
    }
    const refused = new Map(outcome.refused.map((r) => [r.index, r]));
    const streams = [];
    let added = 0;
    group.saves.forEach((s, i) => {
      const r = refused.get(i);
      if (r === undefined) {
        streams.push(s.streamId);
        added += s.n;
        s.resolve(outcome.revisions[i]);
      } else {
        const actual = r.code === 'StreamNotFound' ? null : r.actual;
        s.reject(refusal(s.streamId, s.expectedRevision, expectedNumber(s.expectedRevision), actual));
      }
    });
    // Committed: everything up to `last` is visible to every reader. Which streams
    // that covers is known only when no other process committed in between.
    this.#onSafe(outcome.last, streams, outcome.last - added);
  }

  /** Closes the open group: what is called next goes after it. */
  close() {
    this.#group = null;
  }

  /** Runs `op` once every call made before it is done; closes the group of saves. */
  turn(op) {
    this.#group = null;
    return this.#after(op);
  }

  #after(op) {
    const p = this.#tail.then(op);
    this.#tail = p.then(noop, noop);
    return p;
  }

  /** Settles once every call made so far is done. */
  get quiet() {
    return this.#tail;
  }
}

module.exports = { Turns };
