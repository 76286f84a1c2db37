'use strict';

// One benchmark trial, run by run.js in a fresh process:
//   node --expose-gc trial.js workload <N>   the issue-3 table's column for N messages
//   node --expose-gc trial.js one-stream <N> one stream of N messages
// Prints one JSON line of results.

const { MemoryMessageStore } = require('..');
const { generate, SPECIAL, NAMES } = require('./workload');

const CHUNK = 10_000;
const gc = global.gc || (() => {});

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Median ms of `reps` runs of `fn` after one warm-up run. */
async function time(fn, reps = 5) {
  await fn();
  const runs = [];
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    await fn();
    runs.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(runs);
}

/** Feeds the workload in chunks, timing only `save(chunk)`; returns messages per second. */
async function load(n, save) {
  let spent = 0n;
  let chunk = [];
  const flush = async () => {
    const t = process.hrtime.bigint();
    await save(chunk);
    spent += process.hrtime.bigint() - t;
    chunk = [];
  };
  const pending = [];
  generate(n, (stream, message) => {
    chunk.push([stream, message]);
    if (chunk.length === CHUNK) pending.push(chunk), (chunk = []);
  });
  if (chunk.length) pending.push(chunk);
  for (const c of pending) {
    chunk = c;
    await flush();
  }
  return n / (Number(spent) / 1e9);
}

const saveOneByOne = (store) => async (chunk) => {
  for (const [stream, message] of chunk) await store.saveMessage(stream, message);
};

const saveBatches = (store, size) => async (chunk) => {
  for (let i = 0; i < chunk.length; i += size) {
    const batch = chunk.slice(i, i + size);
    await store.saveMessages(batch[0][0], batch.map((e) => e[1]));
  }
};

const saveExpected = (store, revisions) => async (chunk) => {
  for (const [stream, message] of chunk) {
    const rev = revisions.get(stream) ?? -1n;
    await store.saveMessage(stream, message, rev);
    revisions.set(stream, rev + 1n);
  }
};

function memoryNow(store, stats) {
  const m = process.memoryUsage();
  return m.heapUsed + m.external + (stats ? stats.memoryUsage : 0);
}

async function rates(n, reps) {
  const out = { saveMessage: [], saveMessages100: [], saveExpected: [] };
  for (let r = 0; r < reps; r++) {
    let s = new MemoryMessageStore();
    out.saveMessage.push(await load(n, saveOneByOne(s)));
    await s.dispose();
    s = new MemoryMessageStore();
    out.saveMessages100.push(await load(n, saveBatches(s, 100)));
    await s.dispose();
    s = new MemoryMessageStore();
    out.saveExpected.push(await load(n, saveExpected(s, new Map())));
    await s.dispose();
    gc();
  }
  return { saveMessage: median(out.saveMessage), saveMessages100: median(out.saveMessages100), saveExpected: median(out.saveExpected) };
}

async function workload(n) {
  // Save rates: a warm-up pass on a small store, then medians over fresh stores.
  await rates(Math.min(n, 10_000), 1);
  const r = await rates(n, 3);

  gc();
  const before = memoryNow(null, null);
  const store = new MemoryMessageStore();
  await load(n, saveOneByOne(store));
  gc();
  gc();
  const stats = await store.getStats();
  const bytesPerMessage = (memoryNow(store, stats) - before) / n;
  const heavy = n >= 1_000_000 ? 3 : 5;

  const corr = `corr-${Math.floor(n / 200)}`;
  const q = {
    getMessages1000: await time(() => store.getMessages(SPECIAL)),
    getAllMessages: await time(() => store.getAllMessages(), heavy),
    correlation: await time(() => store.getAllMessages({ correlationId: corr })),
    commandsByName: await time(() => store.getAllCommands({ messageNames: [NAMES[0], NAMES[1]] }, 10)),
    jsonFilter: await time(() => store.getAllMessages({ jsonFilter: { orderId: 'ord-5' } }), heavy),
    fromPosition: await time(() => store.getAllMessages({ fromPosition: BigInt(n - 100) })),
    getStats: await time(() => store.getStats(), 20),
  };
  if (typeof store.getAllMessagesJson === 'function') {
    q.getAllMessagesJson = await time(() => store.getAllMessagesJson(), heavy);
    const text = await store.getMessagesJson(SPECIAL);
    q.parse1000 = await time(() => JSON.parse(text));
  }
  const counts = {
    special: (await store.getMessages(SPECIAL)).length,
    correlation: (await store.getAllMessages({ correlationId: corr })).length,
    jsonFilter: (await store.getAllMessages({ jsonFilter: { orderId: 'ord-5' } })).length,
    fromPosition: (await store.getAllMessages({ fromPosition: BigInt(n - 100) })).length,
  };
  return { n, ...r, ...q, bytesPerMessage, nativeBytesPerMessage: stats.memoryUsage / n, counts };
}

async function oneStream(n) {
  const store = new MemoryMessageStore();
  const batch = [];
  let spent = 0n;
  let k = 0;
  generate(n, (_stream, message) => {
    batch.push(message);
    if (batch.length === 1000) {
      const t = process.hrtime.bigint();
      store.saveMessages('$all', batch);
      spent += process.hrtime.bigint() - t;
      batch.length = 0;
      k++;
    }
  });
  if (batch.length) await store.saveMessages('$all', batch);
  const loadRate = n / (Number(spent) / 1e9);
  gc();
  const t = process.hrtime.bigint();
  const all = await store.getMessages('$all');
  const readMs = Number(process.hrtime.bigint() - t) / 1e6;
  const read = all.length;
  const lastPosition = String(all[all.length - 1].position);
  return { n, loadRate, readMs, read, lastPosition, peakRssMB: process.resourceUsage().maxRSS / 1024 };
}

(async () => {
  const [mode, nText] = process.argv.slice(2);
  const n = Number(nText);
  const result = mode === 'one-stream' ? await oneStream(n) : await workload(n);
  process.stdout.write(`${JSON.stringify(result)}\n`);
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e && e.stack) })}\n`);
  process.exit(1);
});
