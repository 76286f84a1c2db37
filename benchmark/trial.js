'use strict';

// One benchmark trial, run by run.js in a fresh process:
//   node --expose-gc trial.js workload <N>   the store workload's column for N messages
//   node --expose-gc trial.js one-stream <N> one stream of N messages
//   node --expose-gc trial.js sqlite <durability> <N>
//                                            the SqliteMessageStore table's column for a
//                                            durability level; N is the reopen size
//   node --expose-gc trial.js client <ours|baseline> <N>
//                                            the client table's column for one store:
//                                            auto-engineer's server replayed (client.js)
// Prints one JSON line of results (client: one after each step, the last one whole).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { MemoryMessageStore, SqliteMessageStore } = require('..');
const { generate, SPECIAL, NAMES } = require('./workload');
const { traffic, routes, NAMED_EVENT } = require('./client');
const { BaselineMessageStore } = require('./baseline');

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
    if (chunk.length === CHUNK) {
      pending.push(chunk);
      chunk = [];
    }
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
    await store.saveMessages(
      batch[0][0],
      batch.map((e) => e[1]),
    );
  }
};

const saveExpected = (store, revisions) => async (chunk) => {
  for (const [stream, message] of chunk) {
    const rev = revisions.get(stream) ?? -1n;
    await store.saveMessage(stream, message, rev);
    revisions.set(stream, rev + 1n);
  }
};

function memoryNow(_store, stats) {
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
  let _k = 0;
  generate(n, (_stream, message) => {
    batch.push(message);
    if (batch.length === 1000) {
      const t = process.hrtime.bigint();
      store.saveMessages('$all', batch);
      spent += process.hrtime.bigint() - t;
      batch.length = 0;
      _k++;
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

/** The workload's first `n` messages, as [stream, message] pairs. */
function messagesOf(n) {
  const out = [];
  generate(n, (stream, message) => out.push([stream, message]));
  return out;
}

/** Size of the file and its WAL (if any), in bytes. */
function fileBytes(file) {
  let bytes = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      bytes += fs.statSync(f).size;
    } catch {
      // no WAL left: the last close checkpointed it
    }
  }
  return bytes;
}

/** 1,000 saves issued together, then awaited together: median msg/s over `groups` groups (after 2 warm-ups). */
async function togetherRate(store, groups) {
  const together = messagesOf(1000);
  const rates = [];
  for (let g = -2; g < groups; g++) {
    const t = process.hrtime.bigint();
    await Promise.all(together.map(([stream, message]) => store.saveMessage(stream, message)));
    if (g >= 0) rates.push(1000 / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  await store.dispose();
  return median(rates);
}

/** `saveMessages` of 100 messages, awaited one by one: msg/s, and ns per message spent after the call returned. */
async function batchRate(store, n) {
  const all = messagesOf(n);
  await store.saveMessages(
    'warm-up',
    all.slice(0, 100).map((e) => e[1]),
  );
  let waiting = 0n;
  const t = process.hrtime.bigint();
  for (let i = 0; i < all.length; i += 100) {
    const batch = all.slice(i, i + 100);
    const pending = store.saveMessages(
      batch[0][0],
      batch.map((e) => e[1]),
    );
    const w = process.hrtime.bigint();
    await pending;
    waiting += process.hrtime.bigint() - w;
  }
  const rate = n / (Number(process.hrtime.bigint() - t) / 1e9);
  await store.dispose();
  return { rate, commitNs: Number(waiting) / n };
}

/** Messages per second of `fn` (which stringifies `n` messages): median of 3 after a warm-up. */
function stringifyRate(fn, n) {
  fn();
  const rates = [];
  for (let r = 0; r < 3; r++) {
    const t = process.hrtime.bigint();
    fn();
    rates.push(n / (Number(process.hrtime.bigint() - t) / 1e9));
  }
  return median(rates);
}

/**
 * The SqliteMessageStore rows for one durability level, each on a new file in a
 * temporary folder (removed at the end): saves awaited one by one, 1,000 saves issued
 * together (median of groups), saveMessages ×100, and at `n` messages (built with
 * batches of 1,000) the time to reopen, a full read after it, and the file's bytes
 * per message.
 */
async function sqlite(durability, n) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-bench-'));
  let files = 0;
  const newFile = () => path.join(dir, `bench-${++files}.db`);
  const open = (file) => new SqliteMessageStore(file, { durability });
  const power = durability === 'power';
  try {
    const out = { durability, n };

    // saveMessage awaited one by one: each waits for its own commit (and, for
    // 'power', its own fsync).
    const awaitedN = power ? 2_000 : 20_000;
    const awaited = messagesOf(awaitedN);
    const awaitedRates = [];
    for (let r = 0; r < (power ? 1 : 3); r++) {
      const store = open(newFile());
      await store.saveMessage('warm-up', { type: 'WarmUp' });
      const t = process.hrtime.bigint();
      for (const [stream, message] of awaited) await store.saveMessage(stream, message);
      awaitedRates.push(awaitedN / (Number(process.hrtime.bigint() - t) / 1e9));
      await store.dispose();
    }
    out.awaited = median(awaitedRates);
    out.awaitedN = awaitedN;

    // 1,000 saves issued together, then awaited together: one commit for the group.
    const groups = power ? 10 : 20;
    out.together = await togetherRate(open(newFile()), groups);
    out.togetherGroups = groups;

    // saveMessages of 100 messages to one stream, awaited one by one; and how much of
    // that time was spent waiting for the commit, once the call had returned.
    const batchN = power ? 20_000 : 100_000;
    const batches = [];
    for (let r = 0; r < (power ? 1 : 3); r++) batches.push(await batchRate(open(newFile()), batchN));
    out.batch100 = median(batches.map((b) => b.rate));
    out.commitNs = median(batches.map((b) => b.commitNs));
    out.batchN = batchN;

    // The ceiling: the same two loops against MemoryMessageStore (no file), and
    // JSON.stringify alone on the same messages.
    if (!power) {
      out.memoryTogether = await togetherRate(new MemoryMessageStore(), groups);
      const memoryBatches = [];
      for (let r = 0; r < 3; r++) memoryBatches.push((await batchRate(new MemoryMessageStore(), batchN)).rate);
      out.memoryBatch100 = median(memoryBatches);
      const all = messagesOf(batchN).map((e) => e[1]);
      out.stringifyOne = stringifyRate(() => {
        for (const m of all) JSON.stringify(m);
      }, all.length);
      out.stringify100 = stringifyRate(() => {
        for (let i = 0; i < all.length; i += 100) JSON.stringify(all.slice(i, i + 100));
      }, all.length);
    }
    gc();

    // Reopen at n messages: build the file once (batches of 1,000, each awaited), close it.
    const file = newFile();
    {
      const store = open(file);
      let chunk = [];
      const chunks = [];
      generate(n, (stream, message) => {
        chunk.push([stream, message]);
        if (chunk.length === 1000) {
          chunks.push(chunk);
          chunk = [];
        }
      });
      if (chunk.length) chunks.push(chunk);
      for (const c of chunks)
        await store.saveMessages(
          c[0][0],
          c.map((e) => e[1]),
        );
      chunks.length = 0;
      await store.dispose();
    }
    gc();
    out.bytesPerMessage = fileBytes(file) / n;
    const reopen = [];
    const reads = [];
    for (let r = 0; r < 3; r++) {
      const t = process.hrtime.bigint();
      const store = open(file);
      reopen.push(Number(process.hrtime.bigint() - t) / 1e6);
      const stats = await store.getStats();
      if (stats.totalMessages !== n) throw new Error(`reopened ${stats.totalMessages} messages, not ${n}`);
      if (r > 0) {
        const t2 = process.hrtime.bigint();
        const all = await store.getAllMessages();
        reads.push(Number(process.hrtime.bigint() - t2) / 1e6);
        if (all.length !== n) throw new Error(`read ${all.length} messages, not ${n}`);
      }
      await store.dispose();
      gc();
    }
    out.reopenMs = median(reopen);
    out.readMs = median(reads);
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Resident memory once the garbage is collected (twice: the first pass can leave some), in bytes. */
function settledRss() {
  gc();
  gc();
  return process.memoryUsage().rss;
}

/** A warm-up longer than this is a run like the others: it counts as the first. */
const LONG_MS = 1000;

/**
 * Median ms of `reps` runs of `fn` after a warm-up, `before` (untimed) ahead of each.
 * At 1M the slowest routes take seconds a run, where a warm-up teaches the JIT
 * nothing more: counting it keeps the client table's 1M columns within minutes. Not
 * with `before`, which changes the store: both stores must see it the same number
 * of times to give the same answers.
 */
async function timeRoute(fn, reps, before) {
  const run = async () => {
    if (before) await before();
    const t = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const first = await run();
  const runs = first > LONG_MS && !before ? [first] : [];
  while (runs.length < reps) runs.push(await run());
  return median(runs);
}

/**
 * The client table's column for one store (`which`: 'ours' or 'baseline'), alone in
 * this process so that its memory figures are its own: `n` messages saved as the
 * server saves them, then each of its routes timed, then the memory again once full
 * reads have run. Also each route's item count and JSON length, for run.js to check
 * both stores answered alike. Prints the figures so far after each step, so that if
 * the process dies (out of memory, say) run.js still shows what it measured.
 */
async function client(which, n) {
  const stores = { ours: () => new MemoryMessageStore(), baseline: () => new BaselineMessageStore() };
  if (!stores[which]) throw new Error(`client: no store '${which}' (ours or baseline)`);
  const store = stores[which]();
  const server = routes(store);
  const bus = traffic();
  const rss0 = settledRss();

  // The load, generated ahead in chunks so that only the awaited saves are timed.
  let spent = 0n;
  for (let done = 0; done < n; ) {
    const chunk = [];
    for (; chunk.length < CHUNK && done < n; done++) chunk.push(bus.next());
    const t = process.hrtime.bigint();
    for (const [type, message] of chunk) await server.save(type, message);
    spent += process.hrtime.bigint() - t;
  }
  const rssLoad = settledRss();
  const mb = (bytes) => bytes / 2 ** 20;
  const out = { which, n, reps: n >= 1_000_000 ? 3 : 7, answers: {} };
  const report = () => {
    out.peakRssMB = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`${JSON.stringify(out)}\n`);
  };
  out.loadRate = n / (Number(spent) / 1e9);
  out.rssLoadMB = mb(rssLoad);
  out.rssLoadPerMessage = (rssLoad - rss0) / n;
  report();

  /** Times a route into `out[key]`, keeping its last answer's count and JSON length. */
  const route = async (key, fn, before) => {
    out[key] = await timeRoute(
      async () => {
        const { text, count } = await fn();
        out.answers[key] = { count, bytes: text.length };
      },
      out.reps,
      before,
    );
    report();
  };
  await route('messages', () => server.messages());
  await route('messagesByName', () => server.messages([NAMED_EVENT]));
  await route('commands', () => server.commands());
  await route('events', () => server.events());
  await route('streams', () => server.streams());
  await route('stats', () => server.stats());
  // Each run first saves one more command (untimed), as POST /command does, so each
  // finds the pipeline's cache stale. This route comes last but one and 'nothing new'
  // last, so every other route answers over the same n messages in both stores.
  await route(
    'pipelineAfterSave',
    () => server.pipeline(),
    () => server.save(...bus.nextCommand()),
  );
  await route('pipelineCached', () => server.pipeline());

  const rssReads = settledRss();
  out.rssReadsMB = mb(rssReads);
  out.rssReadsPerMessage = (rssReads - rss0) / n;
  await store.dispose();
  out.peakRssMB = process.resourceUsage().maxRSS / 1024;
  return out;
}

(async () => {
  const [mode, ...rest] = process.argv.slice(2);
  const n = Number(rest[rest.length - 1]);
  const result =
    mode === 'one-stream'
      ? await oneStream(n)
      : mode === 'sqlite'
        ? await sqlite(rest[0], n)
        : mode === 'client'
          ? await client(rest[0], n)
          : await workload(n);
  process.stdout.write(`${JSON.stringify(result)}\n`);
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e?.stack) })}\n`);
  process.exit(1);
});
