#!/usr/bin/env node
'use strict';

// Leak checks for the native store , measured as the process's RSS.
//
//   node --expose-gc scripts/leak-check.js            all phases, each in a fresh child process
//   node --expose-gc scripts/leak-check.js <phase>    one phase, in this process
//
// Phases (each must stay within 15%):
//   reset    one store filled with 100,000 messages and reset, 50 rounds (after 10 warm-up
//            rounds, in which V8 sizes its own heap): every round's RSS, after gc, within
//            15% of the first round's.
//   drop     1,000 stores of 1,000 messages each (~240 MB native), dropped, gc; 4 cycles.
//            Every later cycle, while holding its stores and after dropping them, stays
//            within 15% of the first cycle's peak: the memory of dropped stores comes
//            back and is used again. Were it not released, each cycle would add ~240 MB.
//            (RSS does not fall back to the level of a process that never held the
//            stores: glibc keeps freed heap pages mapped until malloc_trim.)
//   dispose  the same with `dispose()`: the disposed stores stay referenced to the end,
//            so only dispose() itself can free their memory.
//   churn    3,000 stores of 1,000 messages, each dropped after use with the event loop
//            turning in between, as in a server, and no explicit gc: the garbage
//            collector reclaims dropped stores by itself, so RSS grows by at most 15% of
//            the native memory churned through.
//   tight    the same 3,000 stores in a loop that never yields to the event loop, twice,
//            with one yield in between: Node runs the finalizers of collected native
//            objects from the event loop, so the first loop's memory is held until the
//            yield (reported), and must be reused by the second loop (within 15%).
//
// The child processes run with glibc's mmap threshold fixed at 128 KiB (GLIBC_TUNABLES),
// so large freed buffers go back to the OS at once; with glibc's default, dynamic
// threshold they may stay in the heap, and RSS after a free wanders by 20% or more.
//
// Prints one line per phase and a final `leak-check: PASS|FAIL (...)` line; exits 1 on
// any failure, 2 when run without --expose-gc.

const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PHASES = ['reset', 'drop', 'dispose', 'churn', 'tight'];
const TUNABLE = 'glibc.malloc.mmap_threshold=131072';
const TOLERANCE = 0.15;

const MB = 1024 * 1024;
const mb = (bytes) => (bytes / MB).toFixed(1);
const rss = () => process.memoryUsage().rss;
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Full gcs, each followed by a turn of the event loop, where Node runs the finalizers of collected native objects. */
async function settle() {
  for (let i = 0; i < 3; i++) {
    global.gc();
    await turn();
  }
  await new Promise((resolve) => setTimeout(resolve, 20));
  global.gc();
  await turn();
}

function smallMessages(n) {
  return Array.from({ length: n }, (_, i) => ({
    type: i % 2 ? 'ThingHappened' : 'DoThing',
    data: { i, name: `item-${i}`, tags: ['a', 'b'], pad: 'x'.repeat(40) },
    correlationId: `c-${i % 10}`,
    requestId: `r-${i}`,
  }));
}

function verdict(phase, ok, details, reason) {
  console.log(`leak-check: ${phase} ${details} ${ok ? 'ok' : `FAILED: ${reason}`}`);
  return ok;
}

async function phaseReset(Store) {
  const WARMUP = 10;
  const ROUNDS = 50;
  const batch = smallMessages(10_000);
  const store = new Store();
  const levels = [];
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (let k = 0; k < 10; k++) await store.saveMessages(`stream-${k % 3}`, batch);
    const stats = await store.getStats();
    if (stats.totalMessages !== 100_000) throw new Error(`round ${round}: ${stats.totalMessages} messages, expected 100000`);
    await store.reset();
    if ((await store.getStats()).memoryUsage !== 0) throw new Error(`round ${round}: memoryUsage is not 0 after reset`);
    await settle();
    levels.push(rss());
  }
  const warm = levels.slice(0, WARMUP);
  const measured = levels.slice(WARMUP);
  const first = measured[0];
  const worst = measured.reduce((w, v, i) => (Math.abs(v / first - 1) > Math.abs(measured[w] / first - 1) ? i : w), 0);
  const ratio = measured[worst] / first;
  return verdict(
    'reset',
    Math.abs(ratio - 1) <= TOLERANCE,
    `rounds=${ROUNDS} messages/round=100000 warm-up=${warm.map(mb).join('/')}MB first=${mb(first)}MB ` +
      `min=${mb(Math.min(...measured))}MB max=${mb(Math.max(...measured))}MB last=${mb(measured[ROUNDS - 1])}MB ratio=${ratio.toFixed(3)}`,
    `round ${worst + 1}: RSS ${mb(measured[worst])} MB is not within ${TOLERANCE * 100}% of the first round's ${mb(first)} MB`,
  );
}

/** Creates `count` stores of the given messages; returns them and their native bytes. */
async function fill(Store, count, messages, yieldEach) {
  const stores = [];
  let native = 0;
  for (let i = 0; i < count; i++) {
    const store = new Store();
    await store.saveMessages(`stream-${i}`, messages);
    native += (await store.getStats()).memoryUsage;
    stores.push(store);
    if (yieldEach) await turn();
  }
  return { stores, native };
}

async function phaseStores(Store, mode) {
  const CYCLES = 4;
  const STORES = 1000;
  const messages = smallMessages(1000);
  await settle();
  const cold = rss();
  const kept = []; // dispose: every disposed store stays referenced to the end
  const held = [];
  const after = [];
  let native = 0;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const made = await fill(Store, STORES, messages, false);
    native = made.native;
    await settle();
    held.push(rss());
    if (mode === 'dispose') {
      for (const store of made.stores) {
        await store.dispose();
        if ((await store.getStats()).memoryUsage !== 0) throw new Error('memoryUsage is not 0 after dispose');
      }
      kept.push(made.stores);
    }
    made.stores = null;
    await settle();
    after.push(rss());
  }
  const peak = held[0];
  const worst = Math.max(...held.slice(1), ...after.slice(1));
  const ratio = worst / peak;
  return verdict(
    mode,
    ratio <= 1 + TOLERANCE,
    `cycles=${CYCLES} stores/cycle=${STORES}x1000msgs native/cycle=${mb(native)}MB cold=${mb(cold)}MB ` +
      `held=${held.map(mb).join('/')}MB after-${mode}+gc=${after.map(mb).join('/')}MB ratio=${ratio.toFixed(3)}` +
      (mode === 'dispose' ? ` disposed-still-referenced=${kept.reduce((n, s) => n + s.length, 0)}` : ''),
    `RSS in cycles 2..${CYCLES} reached ${mb(worst)} MB, not within ${TOLERANCE * 100}% of the first cycle's ` +
      `${mb(peak)} MB: the native memory of ${mode === 'dispose' ? 'disposed' : 'dropped'} stores is not released`,
  );
}

async function phaseChurn(Store) {
  const STORES = 3000;
  const messages = smallMessages(1000);
  // Warm up with one store, so the baseline includes the code paths and the messages.
  await fill(Store, 1, messages, true);
  await settle();
  const base = rss();
  let peak = base;
  let native = 0;
  for (let i = 0; i < STORES; i++) {
    native += (await fill(Store, 1, messages, true)).native;
    if (i % 50 === 49) peak = Math.max(peak, rss());
  }
  const growth = peak - base;
  const share = growth / native;
  return verdict(
    'churn',
    share <= TOLERANCE,
    `stores=${STORES}x1000msgs native-churned=${mb(native)}MB base=${mb(base)}MB peak=${mb(peak)}MB growth/churned=${share.toFixed(3)}`,
    `RSS grew by ${mb(growth)} MB while ${STORES} dropped stores held ${mb(native)} MB of native memory in all: ` +
      'without an explicit gc, dropped stores are not collected (is the GC told about their native memory?)',
  );
}

async function phaseTight(Store) {
  const STORES = 3000;
  const messages = smallMessages(1000);
  await fill(Store, 1, messages, true);
  await settle();
  const base = rss();
  const loop = async () => {
    let native = 0;
    for (let i = 0; i < STORES; i++) {
      const store = new Store();
      await store.saveMessages(`stream-${i}`, messages);
      native += (await store.getStats()).memoryUsage;
    }
    return native;
  };
  const native = await loop();
  const first = rss();
  for (let i = 0; i < 5; i++) await turn();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await loop();
  const second = rss();
  const ratio = second / first;
  return verdict(
    'tight',
    ratio <= 1 + TOLERANCE,
    `stores=${STORES}x1000msgs/loop native/loop=${mb(native)}MB base=${mb(base)}MB after-loop-1=${mb(first)}MB ` +
      `after-loop-2=${mb(second)}MB ratio=${ratio.toFixed(3)}`,
    `the second loop grew RSS to ${mb(second)} MB from ${mb(first)} MB: the first loop's dropped stores were not released when the event loop turned`,
  );
}

async function runPhase(phase) {
  const { MemoryMessageStore } = require(path.resolve(__dirname, '..'));
  const started = Date.now();
  let ok;
  if (phase === 'reset') ok = await phaseReset(MemoryMessageStore);
  else if (phase === 'drop' || phase === 'dispose') ok = await phaseStores(MemoryMessageStore, phase);
  else if (phase === 'churn') ok = await phaseChurn(MemoryMessageStore);
  else ok = await phaseTight(MemoryMessageStore);
  console.log(`leak-check: ${ok ? 'PASS' : 'FAIL'} (${phase}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  process.exitCode = ok ? 0 : 1;
}

function runAll() {
  const started = Date.now();
  const failed = [];
  for (const phase of PHASES) {
    const child = spawnSync(process.execPath, ['--expose-gc', __filename, phase], {
      encoding: 'utf8',
      env: { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, TUNABLE].filter(Boolean).join(':') },
    });
    const lines = `${child.stdout}`.split('\n').filter((l) => l.startsWith('leak-check:') && !/^leak-check: (PASS|FAIL) \(/.test(l));
    for (const l of lines) console.log(l);
    if (child.status !== 0) {
      failed.push(phase);
      if (lines.length === 0)
        console.log(
          `leak-check: ${phase} crashed (status ${child.status}, signal ${child.signal}): ${`${child.stderr}`.trim().slice(-500)}`,
        );
    }
  }
  const time = ((Date.now() - started) / 1000).toFixed(1);
  if (failed.length === 0) {
    console.log(`leak-check: PASS (${PHASES.length} phases, ${time} s)`);
  } else {
    console.log(`leak-check: FAIL (${failed.join(', ')} of ${PHASES.length} phases failed, ${time} s)`);
    process.exitCode = 1;
  }
}

if (typeof global.gc !== 'function') {
  console.error('leak-check: run with node --expose-gc scripts/leak-check.js');
  process.exit(2);
}
const phase = process.argv[2];
if (phase === undefined) {
  runAll();
} else if (PHASES.includes(phase)) {
  runPhase(phase).catch((e) => {
    console.log(`leak-check: ${phase} FAILED: ${e?.stack}`);
    process.exitCode = 1;
  });
} else {
  console.error(`leak-check: unknown phase ${phase}; phases: ${PHASES.join(', ')}`);
  process.exit(2);
}
