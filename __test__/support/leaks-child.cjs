'use strict';

// One phase of the native leak test (__test__/93.leaks.test.ts), in a process of its
// own, over the tests' build (`pnpm build:test-hooks`), whose `testNativeStats()`
// counts the addon's native memory exactly: the live `NativeStore`s and `PgStore`s,
// the bytes and allocations of every live Rust allocation, and SQLite's own bytes
// (src/binding/native_stats.rs). Prints one JSON line of counts; the test asserts.
//
//   node --expose-gc __test__/support/leaks-child.cjs <phase> [leak]
//
// `leak` keeps a reference to one store of each kind made after the baseline, to see
// the test fail as it would on a real leak.
//
// Three rules make the counts exact, not just close:
// - Every phase measures its baseline after a warm-up round that runs the same code
//   with the same sizes: one-time allocations (thread-locals, napi's and SQLite's
//   first-use tables, a store's backlog buffer) are made by then.
// - The warm-up also holds three times as many handles at once as any later moment
//   does. napi-rs keeps every live native object in process-wide hash tables, which
//   grow but never shrink; whether a table of a given load grows depends on where
//   its random hashes put the entries. A table that once held 3n entries has room
//   for 2n or more, and hashbrown never grows a table past twice its load (it
//   rehashes in place instead), so with at most n live handles it never grows again.
// - Stores are made and dropped in helper functions that have returned before the
//   caller settles: a suspended async function may keep its last local alive.

const asyncHooks = require('node:async_hooks');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const build = path.resolve(__dirname, '../../.tmp/test-hooks/message-store.linux-x64-gnu.node');
process.env.NAPI_RS_NATIVE_LIBRARY_PATH = build;
const { MemoryMessageStore, SqliteMessageStore, PostgresMessageStore } = require('../../index.js');
const { testNativeStats } = require(build);
delete process.env.NAPI_RS_NATIVE_LIBRARY_PATH;

const STORES = 20;
const MESSAGES = 500;

const [phase, leakArg] = process.argv.slice(2);
const leaked = []; // with `leak`: stores kept on purpose, once the baseline is measured
let measuring = false;
const leak = (store) => {
  if (measuring && leakArg === 'leak' && leaked.length < 2) leaked.push(store);
};
/** The baseline: the counts now, after which `leak` keeps stores. */
function baseline() {
  measuring = true;
  return testNativeStats();
}

// Native work under way: async resources that are neither promises nor timers (a
// memory store's pool task applying its backlog, napi async work, whose type is not
// Node's own), from their creation to their destruction. Such a task holds its
// store's engine until it completes on the event loop.
const JS_TYPES = new Set(['PROMISE', 'Timeout', 'Immediate', 'TickObject', 'Microtask']);
const working = new Map();
asyncHooks
  .createHook({
    init(id, type) {
      if (!JS_TYPES.has(type)) working.set(id, type);
    },
    destroy(id) {
      working.delete(id);
    },
  })
  .enable();

const turn = () => new Promise((resolve) => setImmediate(resolve));
const pause = () => new Promise((resolve) => setTimeout(resolve, 1));

/**
 * Until nothing is left to collect: full gcs, each followed by a turn of the event
 * loop (Node runs the finalizers of collected native objects from there), while any
 * native work is under way and for three rounds after.
 */
async function settle() {
  let quiet = 0;
  for (let round = 0; quiet < 3; round++) {
    if (round > 20_000) throw new Error(`native work still under way: ${[...working.values()].join(', ')}`);
    global.gc();
    await turn();
    await pause();
    quiet = working.size === 0 ? quiet + 1 : 0;
  }
}

function messages(n, tag) {
  return Array.from({ length: n }, (_, i) => ({
    type: i % 2 ? 'ThingHappened' : 'DoThing',
    data: { i, tag, name: `item-${i}`, pad: 'x'.repeat(40) },
    correlationId: `c-${i % 10}`,
    requestId: `r-${i}`,
  }));
}

const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-leaks-'));
let files = 0;
const open = (kind) => (kind === 'memory' ? new MemoryMessageStore() : new SqliteMessageStore(path.join(folder, `${++files}.db`)));

/** Saves `n` messages in one call and waits until the engine has them (getStats applies a memory store's backlog). */
async function fillOne(store, n, stream) {
  await store.saveMessages(stream, messages(n, stream));
  await store.getStats();
}

/** `count` stores of `kind`, each with MESSAGES messages. */
async function makeStores(kind, count) {
  const stores = [];
  for (let i = 0; i < count; i++) {
    const store = open(kind);
    await fillOne(store, MESSAGES, `stream-${i}`);
    stores.push(store);
  }
  return stores;
}

/** A store with one message, for the warm-ups. */
async function small(kind) {
  const store = open(kind);
  await fillOne(store, 1, 'small');
  return store;
}

/** `count` SQLite stores, filled or empty (but read once). */
async function openStores(count, filled) {
  const stores = [];
  for (let i = 0; i < count; i++) {
    const store = open('sqlite');
    if (filled) await fillOne(store, MESSAGES, `stream-${i}`);
    else await store.getStats();
    stores.push(store);
  }
  return stores;
}

async function disposeAll(stores) {
  for (const store of stores) await store.dispose();
}

/** Holds `count` objects from `make` at once (see the rules above), then drops them. */
async function warmHandles(make, count) {
  let held = [];
  for (let i = 0; i < count; i++) held.push(await make());
  held = null;
  await settle();
}

/** The counts while the stores `make()` gives are held, then after they are dropped and settled. */
async function heldThenDropped(make) {
  let stores = await make();
  await settle();
  const held = testNativeStats();
  leak(stores[0]);
  stores = null;
  await settle();
  return { held, after: testNativeStats() };
}

/** Stores made, counted while held, dropped, counted after settling; `cycles` times, after a warm-up. */
async function drop(kind, cycles) {
  const cycle = () => heldThenDropped(() => makeStores(kind, STORES));
  await cycle();
  await warmHandles(() => small(kind), 3 * STORES);
  const base = baseline();
  const out = [];
  for (let i = 0; i < cycles; i++) out.push(await cycle());
  return { base, cycles: out };
}

/**
 * SQLite stores disposed while still referenced: counted once disposed (with the JS
 * objects alive), against stores disposed empty; then dropped.
 */
async function dispose() {
  const round = async (filled) => {
    let stores = await openStores(STORES, filled);
    await settle();
    const held = testNativeStats();
    await disposeAll(stores);
    await settle();
    const disposed = testNativeStats(); // `stores` still references every store
    if (stores.length !== STORES) throw new Error('lost a store');
    leak(stores[0]);
    stores = null;
    await settle();
    return { held, disposed, after: testNativeStats() };
  };
  await round(true);
  await round(false);
  await warmHandles(() => small('sqlite'), 3 * STORES);
  const base = baseline();
  const empty = await round(false);
  const filled = await round(true);
  return { base, empty, filled };
}

/** One store filled and reset, `rounds` times after a warm-up round: counted empty after each reset. */
async function reset(kind, rounds) {
  const store = open(kind);
  const round = async (r) => {
    for (let k = 0; k < 5; k++) await fillOne(store, 1000, `stream-${k % 3}`);
    await settle();
    const filled = testNativeStats();
    const messageCount = (await store.getStats()).totalMessages;
    await store.reset();
    await settle();
    return { round: r, messageCount, filled, after: testNativeStats() };
  };
  await round(0);
  const empty = baseline();
  const out = [];
  for (let r = 1; r <= rounds; r++) out.push(await round(r));
  const left = (await store.getStats()).totalMessages;
  await store.dispose();
  return { empty, rounds: out, left };
}

/**
 * Stores made and dropped in a loop that never yields to the event loop (its awaits
 * settle in microtasks), with a full gc at its end: counted before the first yield
 * and after settling; twice, after a warm-up loop.
 */
async function tight() {
  const loop = async () => {
    for (let i = 0; i < STORES * 5; i++) {
      const store = open('memory');
      await fillOne(store, MESSAGES, `stream-${i}`);
      leak(store);
    }
    global.gc();
  };
  await loop();
  await warmHandles(() => small('memory'), 3 * STORES * 5);
  const base = baseline();
  const out = [];
  for (let i = 0; i < 2; i++) {
    await loop();
    const beforeYield = testNativeStats();
    await settle();
    out.push({ beforeYield, after: testNativeStats() });
  }
  return { base, loops: out, storesPerLoop: STORES * 5 };
}

/** PostgresMessageStores made (no connection: the first call would connect) and dropped. */
async function postgres(cycles) {
  const one = () => new PostgresMessageStore({ connectionString: 'postgres://nobody@127.0.0.1:1/none' });
  const make = () => Array.from({ length: STORES }, one);
  const cycle = () => heldThenDropped(make);
  await cycle();
  await warmHandles(one, 3 * STORES);
  const base = baseline();
  const out = [];
  for (let i = 0; i < cycles; i++) out.push(await cycle());
  return { base, cycles: out };
}

const phases = {
  'drop-memory': () => drop('memory', 3),
  'drop-sqlite': () => drop('sqlite', 3),
  dispose,
  'reset-memory': () => reset('memory', 5),
  'reset-sqlite': () => reset('sqlite', 5),
  tight,
  postgres: () => postgres(3),
};

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const run = phases[phase];
  if (!run) throw new Error(`unknown phase ${phase}; phases: ${Object.keys(phases).join(', ')}`);
  const result = await run();
  process.stdout.write(`${JSON.stringify({ stores: STORES, messages: MESSAGES, ...result })}\n`);
}

main()
  .catch((e) => {
    process.stderr.write(`${e?.stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(folder, { recursive: true, force: true }));
