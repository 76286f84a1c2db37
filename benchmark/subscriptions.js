'use strict';

// The subscriptions table of `pnpm bench` (run.js starts it in its own process): for
// each store, the live latency from a save's promise resolving to a waiting subscriber
// receiving the message (median and 99th percentile), one subscriber catching up over
// N stored messages, and what 1,000 idle subscriptions add to an awaited save; for
// PostgreSQL also the latency from another process. PostgreSQL is the throwaway
// server the tests use (or DATABASE_URL's). BENCH_SUB_N sets N (1,000,000 by default);
// BENCH_SUB_PG=0 leaves PostgreSQL out.

const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { MemoryMessageStore, SqliteMessageStore, PostgresMessageStore } = require('..');

const N = Number(process.env.BENCH_SUB_N || 1_000_000);
const LATENCY_SAMPLES = 2000;
const now = () => performance.timeOrigin + performance.now();

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Latency of `samples` saves, each awaited, then awaited until the subscriber has it. */
async function liveLatency(store, samples) {
  const sub = store.subscribe({ afterPosition: await headOf(store) });
  const waiters = [];
  const arrivals = [];
  (async () => {
    for await (const m of sub) {
      arrivals.push(now());
      waiters.shift()?.(m);
    }
  })();
  const out = [];
  for (let i = 0; i < samples + 50; i++) {
    const got = new Promise((resolve) => waiters.push(resolve));
    await store.saveMessage('live', { type: 'Tick', data: { i } });
    const resolved = now();
    await got;
    if (i >= 50) out.push(Math.max(0, arrivals[arrivals.length - 1] - resolved));
  }
  await sub.close();
  out.sort((a, b) => a - b);
  return { median: quantile(out, 0.5), p99: quantile(out, 0.99) };
}

async function headOf(store) {
  return (await store.getStats()).totalMessages;
}

/** Fills the store with `n` messages in batches of 1,000 over 100 streams. */
async function fill(store, n) {
  for (let i = 0; i < n; i += 1000) {
    const batch = [];
    for (let k = 0; k < 1000 && i + k < n; k++) batch.push({ type: k % 3 ? 'Evt' : 'Cmd', data: { i: i + k, name: `item-${i + k}` } });
    await store.saveMessages(`stream-${(i / 1000) % 100}`, batch);
  }
}

/** One subscriber from the start until it has `n` messages: msg/s. */
async function catchUp(store, n) {
  const t0 = performance.now();
  let count = 0;
  for await (const _m of store.subscribe()) {
    if (++count === n) break;
  }
  return n / ((performance.now() - t0) / 1000);
}

/** Awaited saveMessage rate, with no subscription and with 1,000 idle ones (caught up, waiting on other streams). */
async function idleCost(store, saves) {
  const rate = async () => {
    const t0 = performance.now();
    for (let i = 0; i < saves; i++) await store.saveMessage('busy', { type: 'Busy', data: { i } });
    return saves / ((performance.now() - t0) / 1000);
  };
  const without = [];
  const withIdle = [];
  for (let round = 0; round < 5; round++) {
    without.push(await rate());
    const subs = Array.from({ length: 1000 }, (_, i) => store.subscribeToStream(`idle-${i}`));
    const pulls = subs.map((s) => s.next());
    await Promise.all(subs.map((s) => s.caughtUp));
    withIdle.push(await rate());
    await Promise.all(subs.map((s) => s.close()));
    await Promise.all(pulls);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const a = median(without);
  const b = median(withIdle);
  return { without: a, withIdle: b, added: (a / b - 1) * 100 };
}

/** Latency from another process: its saves' resolve times arrive over IPC. */
async function crossProcess(url, schema, samples) {
  const store = new PostgresMessageStore({ connectionString: url, schema });
  const sub = store.subscribe({ afterPosition: await headOf(store) });
  const resolvedAt = new Map();
  const arrivedAt = new Map();
  let done;
  const finished = new Promise((resolve) => {
    done = resolve;
  });
  (async () => {
    for await (const m of sub) {
      arrivedAt.set(m.message.data.i, now());
      if (arrivedAt.size === samples) done();
    }
  })();
  await sub.caughtUp;
  const child = fork(__filename, ['writer', url, schema, String(samples)]);
  child.on('message', ([i, t]) => resolvedAt.set(i, t));
  await finished;
  await new Promise((resolve) => child.once('exit', resolve));
  await sub.close();
  await store.dispose();
  const out = [...arrivedAt].map(([i, t]) => Math.max(0, t - resolvedAt.get(i))).sort((a, b) => a - b);
  return { median: quantile(out, 0.5), p99: quantile(out, 0.99) };
}

async function writer(url, schema, samples) {
  const store = new PostgresMessageStore({ connectionString: url, schema });
  for (let i = 0; i < samples; i++) {
    await store.saveMessage('remote', { type: 'Remote', data: { i } });
    process.send([i, now()]);
    // Apart, so each is a transaction of its own and no queue builds up.
    await new Promise((r) => setTimeout(r, 2));
  }
  await store.dispose();
  process.disconnect();
}

async function measure(name, store, extra) {
  process.stderr.write(`subscriptions: ${name}, live latency…\n`);
  const live = await liveLatency(store, name === 'PostgresMessageStore' ? 1000 : LATENCY_SAMPLES);
  process.stderr.write(`subscriptions: ${name}, idle subscriptions…\n`);
  const idle = await idleCost(store, name === 'PostgresMessageStore' ? 1000 : 20000);
  process.stderr.write(`subscriptions: ${name}, filling ${N}…\n`);
  await fill(store, N);
  process.stderr.write(`subscriptions: ${name}, catching up…\n`);
  const rate = await catchUp(store, N);
  process.stderr.write(`subscriptions: ${name}, catching up again…\n`);
  const warm = await catchUp(store, N);
  return { name, live, idle, rate, warm, ...(extra ? await extra() : {}) };
}

async function main() {
  const results = [];
  results.push(await measure('MemoryMessageStore', new MemoryMessageStore()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sub-'));
  const sqlite = new SqliteMessageStore(path.join(dir, 'store.db'));
  results.push(await measure('SqliteMessageStore', sqlite));
  await sqlite.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  if (process.env.BENCH_SUB_PG !== '0') {
    const { startPostgres } = await import('../__test__/support/postgres-server.mjs');
    const pg = await startPostgres();
    try {
      const store = new PostgresMessageStore({ connectionString: pg.url, schema: 'bench_sub' });
      await store.reset();
      results.push(
        await measure('PostgresMessageStore', store, async () => {
          process.stderr.write('subscriptions: PostgresMessageStore, from another process…\n');
          return { remote: await crossProcess(pg.url, 'bench_sub', 1000) };
        }),
      );
      await store.dispose();
    } finally {
      await pg.stop();
    }
  }
  const ms = (x) => (x < 1 ? x.toFixed(3) : x.toFixed(2));
  const rate = (x) => Math.round(x).toLocaleString('en-US');
  const lines = [
    `| subscriptions | ${results.map((r) => r.name).join(' | ')} | target |`,
    `|---|${results.map(() => '---:').join('|')}|---|`,
    `| live latency, same process, median ms | ${results.map((r) => ms(r.live.median)).join(' | ')} | < 0.2 memory, < 1 SQLite |`,
    `| live latency, same process, p99 ms | ${results.map((r) => ms(r.live.p99)).join(' | ')} | |`,
    `| live latency, another process, median ms | ${results.map((r) => (r.remote ? ms(r.remote.median) : '')).join(' | ')} | < 5 |`,
    `| live latency, another process, p99 ms | ${results.map((r) => (r.remote ? ms(r.remote.p99) : '')).join(' | ')} | < 50 |`,
    `| catch-up over ${N.toLocaleString('en-US')} stored, first read (objects built), msg/s | ${results.map((r) => rate(r.rate)).join(' | ')} | ≥ 500,000 memory |`,
    `| … again (objects kept by the first), msg/s | ${results.map((r) => rate(r.warm)).join(' | ')} | |`,
    `| awaited saveMessage, msg/s, no subscription | ${results.map((r) => rate(r.idle.without)).join(' | ')} | |`,
    `| … with 1,000 idle subscriptions, msg/s | ${results.map((r) => rate(r.idle.withIdle)).join(' | ')} | |`,
    `| … cost added by them, % | ${results.map((r) => r.idle.added.toFixed(1)).join(' | ')} | < 1 |`,
  ];
  console.log(lines.join('\n'));
  console.log(
    '\nLatency: from the save promise resolving to the subscriber receiving the message. Idle: 1,000 subscribeToStream ' +
      "subscriptions caught up and waiting on streams nobody saves to (medians of 5 interleaved rounds; SQLite at durability 'process'). " +
      'PostgreSQL builds every message it reads (it keeps no objects), so its second catch-up costs what the first does.',
  );
}

if (process.argv[2] === 'writer') {
  writer(process.argv[3], process.argv[4], Number(process.argv[5])).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
