'use strict';

// The objects reads have built, kept so that the next read hands out the same ones
// instead of building them again: a full read of data read before then costs about
// what copying an array of references costs, as it does in the TypeScript package,
// which keeps its objects and hands them out.
//
// Sharing is safe because what is kept is immutable: every message object, its data
// and everything in it, and the envelope, are frozen, and its Dates refuse their
// setters (revive.js). Nothing a caller does to a result can change a later read.
//
// Layout: `#objects[record]` (record = position - 1) is the kept object or
// `undefined`, a dense array so that a run of records is one `slice`. Records are
// grouped in segments of SEGMENT, the unit of eviction: each knows how many objects
// it keeps, their estimated bytes and the read that last touched it.
//
// Invariants:
// - `#kept[s]` counts the defined entries of segment `s`; `#bytes[s]` is the sum of
//   their estimates; `#total` the sum of all `#bytes`;
// - after `trim()`, `#total <= #maxBytes` (eviction drops the least recently read
//   segments first, and among those the oldest records);
// - an entry is only ever the object built for that record: the store clears the
//   cache whenever records are numbered again (`reset`, `dispose`).

/** Records per segment. */
const SEGMENT = 1024;
const SHIFT = 10;

/**
 * Estimated JavaScript heap bytes of one kept message: ENVELOPE for the envelope, its
 * Date and bigints and the array slot, PER_OBJECT for each object or array in the
 * message (itself included), plus its stored JSON's length in bytes (strings, keys,
 * numbers). Fitted on messages of 30 B to 16 KiB of JSON, flat and nested, strings and
 * small objects (heap after gc() a kept message, Node 20): within 10% of each, on the
 * high side where strings repeat (reads share equal strings).
 */
const ENVELOPE = 200;
const PER_OBJECT = 52;

function estimate(objects, length) {
  return ENVELOPE + PER_OBJECT * objects + length;
}

/** The bound when no `cacheBytes` is given: a quarter of the heap V8 may grow to, at most 1 GiB. */
function defaultBound(heapLimit) {
  return Math.min(2 ** 30, Math.floor(heapLimit / 4));
}

class ObjectCache {
  #objects = [];
  #kept = [];
  #bytes = [];
  #used = [];
  #reads = 0;
  #total = 0;
  #maxBytes;

  constructor(maxBytes) {
    this.#maxBytes = maxBytes;
  }

  /** Estimated bytes of everything kept (what `getStats().memoryUsage` adds). */
  get bytes() {
    return this.#total;
  }

  /** How many objects are kept. */
  get size() {
    let n = 0;
    for (const k of this.#kept) n += k ?? 0;
    return n;
  }

  clear() {
    this.#objects = [];
    this.#kept = [];
    this.#bytes = [];
    this.#used = [];
    this.#total = 0;
  }

  /**
   * Starts a read of `runs` (`[start, end, …]`, as the native side gives them):
   * marks the segments it touches as just used and returns the records it covers
   * that are not kept, in order.
   */
  missing(runs) {
    const tick = ++this.#reads;
    const objects = this.#objects;
    const out = [];
    for (let k = 0; k < runs.length; k += 2) {
      const a = runs[k];
      const b = runs[k + 1];
      for (let s = a >> SHIFT, last = (b - 1) >> SHIFT; s <= last; s++) {
        this.#used[s] = tick;
        if (this.#kept[s] === SEGMENT) continue;
        const hi = Math.min(b, (s + 1) << SHIFT);
        for (let i = Math.max(a, s << SHIFT); i < hi; i++) if (objects[i] === undefined) out.push(i);
      }
    }
    return out;
  }

  /** Keeps `object` for `record`, at an estimated `cost` in bytes (`estimate`). */
  put(record, object, cost) {
    const objects = this.#objects;
    // Filled with `undefined`, not holes, so the array stays dense: `slice` stays a copy of pointers.
    while (objects.length <= record) objects.push(undefined);
    if (objects[record] !== undefined) return;
    objects[record] = object;
    const s = record >> SHIFT;
    this.#kept[s] = (this.#kept[s] ?? 0) + 1;
    this.#bytes[s] = (this.#bytes[s] ?? 0) + cost;
    this.#total += cost;
  }

  /** The objects of `runs`, in order; every record in them must be kept (call before `trim`). */
  collect(runs) {
    const objects = this.#objects;
    if (runs.length === 2) return objects.slice(runs[0], runs[1]);
    const out = [];
    for (let k = 0; k < runs.length; k += 2) {
      for (let i = runs[k], end = runs[k + 1]; i < end; i++) out.push(objects[i]);
    }
    return out;
  }

  /** Drops the least recently read segments until what is kept fits the bound. */
  trim() {
    if (this.#total <= this.#maxBytes) return;
    const segments = [];
    for (let s = 0; s < this.#kept.length; s++) if (this.#kept[s] > 0) segments.push(s);
    segments.sort((x, y) => this.#used[x] - this.#used[y] || x - y);
    const objects = this.#objects;
    for (const s of segments) {
      if (this.#total <= this.#maxBytes) break;
      const end = Math.min(objects.length, (s + 1) << SHIFT);
      for (let i = s << SHIFT; i < end; i++) objects[i] = undefined;
      this.#total -= this.#bytes[s];
      this.#kept[s] = 0;
      this.#bytes[s] = 0;
    }
    if (this.#total < 1e-6) this.#total = 0;
  }
}

module.exports = { ObjectCache, defaultBound, estimate, SEGMENT };
