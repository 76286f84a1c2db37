'use strict';

// The leaks table of `pnpm bench` (run.js starts it in its own process): how the
// process's RSS behaves as MemoryMessageStores are filled, reset, disposed and
// dropped. A report, not a check: RSS depends on the allocator, the machine's load
// and V8's heap sizing, so nothing here fails. The exact check is the test
// (__test__/93.leaks.test.ts, which counts native bytes and store handles in the
// tests' build).
//
//   node --expose-gc benchmark/leaks.js            the table, each phase in a fresh child process
//   node --expose-gc benchmark/leaks.js <phase>    one phase, in this process (one JSON line)
//
// Phases, and the ratio each reports (15% is what a process that gives the memory
// back stays within, on a quiet machine):
//   reset    one store filled with 100,000 messages and reset, 50 rounds (after 10 warm-up
//            rounds, in which V8 sizes its own heap): the round whose RSS after gc is
//            furthest from the first round's, divided by the first's.
//   drop     1,000 stores of 1,000 messages each (~240 MB native), dropped, gc; 4 cycles:
//            the highest RSS of cycles 2..4, held or dropped, divided by the first
//            cycle's peak. Were dropped stores not released, each cycle would add
//            ~240 MB. (RSS does not fall back to the level of a process that never held
//            the stores: glibc keeps freed heap pages mapped until malloc_trim.)
//   dispose  the same with `dispose()`: the disposed stores stay referenced to the end,
//            so only dispose() itself can free their memory.
//   churn    3,000 stores of 1,000 messages, each dropped after use with the event loop
//            turning in between, as in a server, and no explicit gc: RSS growth divided
//            by the native memory churned through (the garbage collector reclaims
//            dropped stores by itself, told of their native memory).
//   tight    the same 3,000 stores in a loop that never yields to the event loop, twice,
//            with one yield in between: RSS after the second loop divided by RSS after
//            the first (Node runs the finalizers of collected native objects from the
//            event loop, so the first loop's memory is held until the yield, and must
//            be reused by the second loop).
//
// The child processes run with glibc's mmap threshold fixed at 128 KiB (GLIBC_TUNABLES),
// so large freed buffers go back to the OS at once; with glibc's default, dynamic
// threshold they may stay in the heap, and RSS after a free wanders by 20% or more.

const path = require('node:path');
const { spawnSync } = require('node:child_process');

const PHASES = ['reset', 'drop', 'dispose', 'churn', 'tight'];
const TUNABLE = 'glibc.malloc.mmap_threshold=131072';

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
  const measured = levels.slice(WARMUP);
  const first = measured[0];
  const worst = measured.reduce((w, v, i) => (Math.abs(v / first - 1) > Math.abs(measured[w] / first - 1) ? i : w), 0);
  return {
    what: `${ROUNDS} rounds of 100,000 messages, reset (after ${WARMUP} warm-up rounds)`,
    figures:
      `warm-up ${levels.slice(0, WARMUP).map(mb).join('/')} MB; first ${mb(first)}, min ${mb(Math.min(...measured))}, ` +
      `max ${mb(Math.max(...measured))}, last ${mb(measured[ROUNDS - 1])} MB`,
    ratio: measured[worst] / first,
    reference: '0.85 to 1.15',
  };
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
  return {
    what: `${CYCLES} cycles of ${STORES.toLocaleString('en-US')} stores × 1,000 messages, ${mode === 'dispose' ? 'disposed (still referenced)' : 'dropped'}, gc`,
    figures:
      `native ${mb(native)} MB a cycle; cold ${mb(cold)}, held ${held.map(mb).join('/')}, ` +
      `after ${mode === 'dispose' ? 'dispose' : 'drop'}+gc ${after.map(mb).join('/')} MB`,
    ratio: Math.max(...held.slice(1), ...after.slice(1)) / held[0],
    reference: '≤ 1.15',
  };
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
  return {
    what: `${STORES.toLocaleString('en-US')} stores × 1,000 messages, each dropped with the event loop turning, no explicit gc`,
    figures: `native churned ${mb(native)} MB; base ${mb(base)}, peak ${mb(peak)} MB`,
    ratio: (peak - base) / native,
    reference: '≤ 0.15 (growth ÷ churned)',
  };
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
  return {
    what: `${STORES.toLocaleString('en-US')} stores × 1,000 messages dropped in a loop that never yields, twice`,
    figures: `native ${mb(native)} MB a loop; base ${mb(base)}, after loop 1 ${mb(first)}, after loop 2 ${mb(second)} MB`,
    ratio: second / first,
    reference: '≤ 1.15',
  };
}

async function runPhase(phase) {
  const { MemoryMessageStore } = require(path.resolve(__dirname, '..'));
  const started = Date.now();
  let result;
  if (phase === 'reset') result = await phaseReset(MemoryMessageStore);
  else if (phase === 'drop' || phase === 'dispose') result = await phaseStores(MemoryMessageStore, phase);
  else if (phase === 'churn') result = await phaseChurn(MemoryMessageStore);
  else result = await phaseTight(MemoryMessageStore);
  console.log(JSON.stringify({ phase, ...result, seconds: (Date.now() - started) / 1000 }));
}

function runAll() {
  const lines = [
    'Leaks, as RSS (MemoryMessageStore; a report: the exact check is __test__/93.leaks.test.ts)',
    '',
    '| phase | what | RSS | ratio | reference | s |',
    '|---|---|---|---:|---|---:|',
  ];
  for (const phase of PHASES) {
    process.stderr.write(`leaks: ${phase}…\n`);
    const child = spawnSync(process.execPath, ['--expose-gc', __filename, phase], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
      env: { ...process.env, GLIBC_TUNABLES: [process.env.GLIBC_TUNABLES, TUNABLE].filter(Boolean).join(':') },
    });
    let r = null;
    try {
      r = JSON.parse(`${child.stdout}`.trim().split('\n').pop());
    } catch {
      // reported below
    }
    if (child.status !== 0 || r === null) {
      const why = `${child.stderr}`.trim().split('\n').slice(-3).join(' ').slice(0, 300);
      lines.push(`| ${phase} | FAILED (status ${child.status}, signal ${child.signal}): ${why} | | | | |`);
      continue;
    }
    lines.push(`| ${phase} | ${r.what} | ${r.figures} | ${r.ratio.toFixed(3)} | ${r.reference} | ${r.seconds.toFixed(1)} |`);
  }
  console.log(lines.join('\n'));
}

if (typeof global.gc !== 'function') {
  console.error('leaks: run with node --expose-gc benchmark/leaks.js');
  process.exit(2);
}
const phase = process.argv[2];
if (phase === undefined) {
  runAll();
} else if (PHASES.includes(phase)) {
  runPhase(phase).catch((e) => {
    console.error(`leaks: ${phase} failed: ${e?.stack}`);
    process.exitCode = 1;
  });
} else {
  console.error(`leaks: unknown phase ${phase}; phases: ${PHASES.join(', ')}`);
  process.exit(2);
}
