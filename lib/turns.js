'use strict';

// A server's side of the write scheduler (scheduler.js): the order of calls, and the
// groups of saves. A call that changes the store waits its turn after every call made
// before it (`turn`); a read waits only for the changes made before it (`read`), so
// reads run side by side on the server's pool, and a read called after a save sees it.
// The saves called one after another, with no other call in between, form one group,
// sent in one round trip and one transaction when its turn comes. A group is closed by
// any other call (`close`), when it is sent, or by a save that must go alone.
//
// Invariants:
// - `#tail` settles once every call made so far is done; a change runs after it;
// - `#changes` settles once every change (save group, session, reset) made so far is
//   done; a read runs after it;
// - at most one group is open (`#group`), and it has not been sent;
// - a save's promise settles only once the transaction that holds it committed (or
//   failed): with the server's outcome for it (resolved: the stream's new revision).

const { fromNative, refusal } = require('./errors');
const { expectedRevision: expectedNumber } = require('./validate');

const noop = () => {};

class Turns {
  /** @type {import('./backend').Backend} */
  #backend;
  #tail = Promise.resolve();
  #changes = Promise.resolve();
  /** The open group: `{ saves }`, or null. */
  #group = null;

  constructor(backend) {
    this.#backend = backend;
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
    group.saves.forEach((s, i) => {
      const r = refused.get(i);
      if (r === undefined) {
        s.resolve(outcome.revisions[i]);
      } else {
        const actual = r.code === 'StreamNotFound' ? null : r.actual;
        s.reject(refusal(s.streamId, s.expectedRevision, expectedNumber(s.expectedRevision), actual));
      }
    });
    // Committed, and positioned soon after by the server's sequencing, which tells
    // the subscriptions (the backend's `watch`).
  }

  /** Closes the open group: what is called next goes after it. */
  close() {
    this.#group = null;
  }

  /** Runs a change `op` once every call made before it is done; closes the group of saves. */
  turn(op) {
    this.#group = null;
    return this.#after(op);
  }

  /** Runs a read `op` once every change made before it is done; closes the group of saves. */
  read(op) {
    this.#group = null;
    const p = this.#changes.then(op);
    const done = p.then(noop, noop);
    this.#tail = Promise.all([this.#tail, done]).then(noop);
    return p;
  }

  #after(op) {
    const p = this.#tail.then(op);
    this.#tail = p.then(noop, noop);
    this.#changes = this.#tail;
    return p;
  }

  /** Settles once every call made so far is done. */
  get quiet() {
    return this.#tail;
  }
}

module.exports = { Turns };
