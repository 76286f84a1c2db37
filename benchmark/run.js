'use strict';

// `pnpm bench`: runs each trial in a fresh child process and prints the tables: the
// real client's (auto-engineer's server replayed against our MemoryMessageStore and
// against baseline.js, the by-reference store the original package is), then
// MemoryMessageStore's, the one-stream line, then SqliteMessageStore's (one column per
// durability level). Each trial is trial.js; the workloads are client.js and
// workload.js. Figures are medians of at least 3 runs after a warm-up, unless a row
// says otherwise. To run less: BENCH_CLIENT (the client table's sizes, e.g.
// "10000,100000"; empty or 0 to skip it), BENCH_SIZES (e.g. "10000,100000"; empty to
// skip the memory table), BENCH_ONE_STREAM (0 to skip, or a message count),
// BENCH_SQLITE (0 to skip the SQLite table), BENCH_SQLITE_N (the SQLite reopen size,
// 1000000 by default), BENCH_SUBSCRIPTIONS (0 to skip the subscriptions table; its own
// knobs are in subscriptions.js), BENCH_LEAKS (0 to skip the leaks table, last: RSS as
// stores are reset, disposed and dropped, in leaks.js; reported, never failed),
// BENCH_POSTGRES (0 to skip the PostgreSQL table beside plain `pg`, postgres.js; its
// rounds: BENCH_PG_ROUNDS), BENCH_HISTORY (0 to skip the `message-store` command's
// table, history.js; its size and rounds: BENCH_HISTORY_N, BENCH_HISTORY_ROUNDS).

const { execFileSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const list = (text) =>
  text
    .split(',')
    .filter((x) => x.trim() !== '')
    .map(Number);
const clientSizes = list(process.env.BENCH_CLIENT ?? '10000,100000,1000000').filter((x) => x > 0);
const sizes = list(process.env.BENCH_SIZES ?? '10000,100000,1000000');
const oneStream = Number(process.env.BENCH_ONE_STREAM ?? 10_000_000);
const sqliteOn = process.env.BENCH_SQLITE !== '0';
const sqliteN = Number(process.env.BENCH_SQLITE_N || 1_000_000);

function trial(args, heapMB) {
  const flags = ['--expose-gc'];
  if (heapMB) flags.push(`--max-old-space-size=${heapMB}`);
  let out;
  try {
    out = execFileSync(process.execPath, [...flags, path.join(__dirname, 'trial.js'), ...args], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch (e) {
    // A trial that died may have printed its figures so far (the client's do): keep
    // them, with why it stopped.
    const printed = String(e.stdout || '')
      .trim()
      .split('\n')
      .map(parseLine)
      .filter(Boolean);
    const failure = printed.find((r) => r.error);
    const reason = failure ? failure.error : `${e.message.split('\n')[0]}${e.signal ? ` (${e.signal})` : ''}`;
    const partial = printed.filter((r) => !r.error).pop();
    if (!partial) throw new Error(reason);
    return { ...partial, error: reason };
  }
  const result = JSON.parse(out.trim().split('\n').pop());
  if (result.error) throw new Error(result.error);
  return result;
}

function parseLine(line) {
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

const fmtRate = (x) => (x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtMs = (x) => (x === undefined ? 'n/a' : x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));

const label = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

if (clientSizes.length) clientTable();

/**
 * The client table: for each size, one trial per store (each alone in its process, so
 * each column's memory is its own store's), then a ratio column where above 1 means
 * ours is better. Warns below the table where the two stores' answers differ.
 */
function clientTable() {
  const stores = ['ours', 'baseline'];
  const columns = [];
  for (const n of clientSizes) {
    const pair = {};
    for (const which of stores) {
      process.stderr.write(`client replay, ${which}, N=${n}…\n`);
      try {
        pair[which] = trial(['client', which, String(n)], n >= 1_000_000 ? 8192 : undefined);
      } catch (e) {
        pair[which] = { error: String(e.message).split('\n')[0], answers: {} };
      }
    }
    columns.push({ n, ...pair });
  }
  const bytes = (x) => Math.round(x).toLocaleString('en-US');
  const ratio = (x) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : Math.round(x).toLocaleString('en-US')}×` : 'n/a');
  // [label, key, format, better]: `better` says which way the ratio is taken.
  const clientRows = [
    ["load: `saveMessages('$all', [m])` awaited one by one, msg/s", 'loadRate', fmtRate, 'higher'],
    ["`GET /messages`: `getMessages('$all')`, last 1,000 as JSON, ms", 'messages', fmtMs, 'lower'],
    ['`GET /messages?messageNames=…`, ms', 'messagesByName', fmtMs, 'lower'],
    ['`GET /commands`: `getAllCommands(undefined, 1000)` as JSON, ms', 'commands', fmtMs, 'lower'],
    ['`GET /events`: `getAllEvents(undefined, 1000)` as legacy JSON, ms', 'events', fmtMs, 'lower'],
    ['`GET /streams`, ms', 'streams', fmtMs, 'lower'],
    ['`GET /stats`, ms', 'stats', fmtMs, 'lower'],
    ['`GET /pipeline` after a save (untimed): `getStats` + 8 × `getAllMessages()`, ms', 'pipelineAfterSave', fmtMs, 'lower'],
    ['`GET /pipeline`, nothing new (`getStats`, cached graph), ms', 'pipelineCached', fmtMs, 'lower'],
    ['RSS after the load, B/msg (MB)', 'rssLoadPerMessage', bytes, 'lower', 'rssLoadMB'],
    ['RSS after the reads, B/msg (MB)', 'rssReadsPerMessage', bytes, 'lower', 'rssReadsMB'],
    ['peak RSS, MB', 'peakRssMB', bytes, 'lower'],
  ];
  const cell = (r, key, fmt, mbKey) =>
    r[key] === undefined
      ? r.error
        ? 'FAILED'
        : 'n/a'
      : `${fmt(r[key])}${mbKey ? ` (${Math.round(r[mbKey]).toLocaleString('en-US')})` : ''}`;
  const lines = [];
  lines.push(
    `Real client (auto-engineer's server routes replayed; ours = MemoryMessageStore, baseline = by-reference JS store). ` +
      `"ours ÷ baseline" is how many times better ours is: baseline ms ÷ ours ms for times, ours ÷ baseline for ` +
      `rates, baseline ÷ ours for memory; above 1 means ours is better. B/msg: RSS growth over the empty store ÷ N.`,
    '',
  );
  lines.push(
    `| request | ${columns.map((c) => `${label(c.n)} ours | ${label(c.n)} baseline | ${label(c.n)} ours ÷ baseline`).join(' | ')} |`,
  );
  lines.push(`|---|${columns.map(() => '---:|---:|---:').join('|')}|`);
  for (const [name, key, fmt, better, mbKey] of clientRows) {
    const cells = columns.map((c) => {
      const { ours, baseline } = c;
      const x = better === 'higher' ? ours[key] / baseline[key] : baseline[key] / ours[key];
      return `${cell(ours, key, fmt, mbKey)} | ${cell(baseline, key, fmt, mbKey)} | ${ratio(x)}`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    `Runs per request, medians: ${columns.map((c) => `${c.ours.reps ?? c.baseline.reps ?? '?'} at ${label(c.n)}`).join(', ')}, ` +
      'after a warm-up run unless that took over a second (it then counts as the first; not after a save).',
  );
  // Both stores must answer each request alike: same item counts and the same JSON
  // length (but for /stats, whose memoryUsage is each store's own estimate).
  for (const c of columns) {
    for (const which of stores) if (c[which].error) lines.push(`${label(c.n)} ${which} FAILED: ${c[which].error}`);
    for (const [key, a] of Object.entries(c.ours.answers)) {
      const b = c.baseline.answers[key];
      if (b && (a.count !== b.count || (key !== 'stats' && a.bytes !== b.bytes))) {
        lines.push(`WARNING ${label(c.n)} ${key}: ours answered ${a.count} items (${a.bytes} B), baseline ${b.count} items (${b.bytes} B)`);
      }
    }
  }
  console.log(`${lines.join('\n')}\n`);
}

const rows = [
  ['`saveMessage`, msg/s (awaited one by one)', 'saveMessage', fmtRate, '≥ 400,000'],
  ['`saveMessages` ×100, msg/s', 'saveMessages100', fmtRate, '≥ 1,000,000'],
  ['`saveMessage` with `expectedRevision`, msg/s', 'saveExpected', fmtRate, ''],
  ['`getMessages` of the 1,000-message stream, ms', 'getMessages1000', fmtMs, ''],
  ['`JSON.parse` of the same 1,000 messages, ms', 'parse1000', fmtMs, ''],
  ['`getAllMessages()`, ms', 'getAllMessages', fmtMs, '≤ 900 at 1M'],
  ['`getAllMessages({correlationId})` → 100, ms', 'correlation', fmtMs, '≤ 1 at 1M'],
  ['`getAllCommands({messageNames: [2 names]}, 10)`, ms', 'commandsByName', fmtMs, '≤ 1 at 1M'],
  ['`getAllMessages({jsonFilter})` (one stream), ms', 'jsonFilter', fmtMs, '≤ 200 at 1M'],
  ['`getAllMessages({fromPosition: N-100n})`, ms', 'fromPosition', fmtMs, '≤ 1 at 1M'],
  ['`getStats()`, ms', 'getStats', fmtMs, '≤ 0.05 at 1M'],
  ['`getAllMessagesJson()`, ms', 'getAllMessagesJson', fmtMs, ''],
  ['bytes per message (heap + external + native)', 'bytesPerMessage', (x) => Math.round(x).toString(), '≤ 400'],
  ['of which native buffers and indexes', 'nativeBytesPerMessage', (x) => Math.round(x).toString(), ''],
];

const results = [];
for (const n of sizes) {
  process.stderr.write(`workload N=${n}…\n`);
  results.push(trial(['workload', String(n)], n >= 1_000_000 ? 8192 : undefined));
}

const lines = [];
lines.push(`| op | ${results.map((r) => label(r.n)).join(' | ')} | target |`);
lines.push(`|---|${results.map(() => '---:').join('|')}|---|`);
for (const [name, key, fmt, target] of rows) {
  lines.push(`| ${name} | ${results.map((r) => fmt(r[key])).join(' | ')} | ${target} |`);
}
if (results.length) console.log(lines.join('\n'));

if (oneStream > 0) {
  process.stderr.write(`one stream of ${oneStream}…\n`);
  try {
    const r = trial(['one-stream', String(oneStream)], 20_000);
    console.log(
      `\nOne stream of ${r.n.toLocaleString('en-US')} messages: load ${fmtRate(r.loadRate)} msg/s (saveMessages ×1,000), ` +
        `full getMessages ${fmtMs(r.readMs)} ms (${r.read.toLocaleString('en-US')} messages, last position ${r.lastPosition}), ` +
        `peak RSS ${Math.round(r.peakRssMB).toLocaleString('en-US')} MB`,
    );
  } catch (e) {
    console.log(`\nOne stream of ${oneStream.toLocaleString('en-US')} messages: FAILED: ${String(e.message).split('\n')[0]}`);
  }
}

if (sqliteOn) {
  const levels = ['process', 'power'];
  const columns = [];
  for (const durability of levels) {
    process.stderr.write(`SqliteMessageStore, durability '${durability}', reopen at ${sqliteN}…\n`);
    try {
      columns.push(trial(['sqlite', durability, String(sqliteN)], sqliteN >= 1_000_000 ? 8192 : undefined));
    } catch (e) {
      columns.push({ error: String(e.message).split('\n')[0] });
    }
  }
  const n = (x) => x.toLocaleString('en-US');
  const cell = (c, key, fmt, note) => (c.error ? 'FAILED' : `${fmt(c[key])}${note ? ` ${note(c)}` : ''}`);
  const sqliteRows = [
    ['`saveMessage`, msg/s (awaited one by one)', 'awaited', fmtRate, (c) => `(${n(c.awaitedN)} saves)`, '≥ 30,000', ''],
    [
      '1,000 `saveMessage` issued together, msg/s',
      'together',
      fmtRate,
      (c) => `(median of ${c.togetherGroups} groups)`,
      '≥ 300,000',
      '≥ 50× awaited',
    ],
    ['… ÷ awaited one by one', 'ratio', (x) => `${Math.round(x)}×`, null, '', '≥ 50×'],
    ['`saveMessages` ×100, msg/s', 'batch100', fmtRate, (c) => `(${n(c.batchN)} messages)`, '≥ 500,000', ''],
    ['… of which waiting for the commit, ns per message', 'commitNs', (x) => Math.round(x).toLocaleString('en-US'), null, '', ''],
    [`reopen at ${label(sqliteN)} messages, ms`, 'reopenMs', fmtMs, null, '≤ 3,000', '≤ 3,000'],
    ['`getAllMessages()` after reopening, ms', 'readMs', fmtMs, null, 'as memory', 'as memory'],
    ['file bytes per message (.db + -wal)', 'bytesPerMessage', (x) => Math.round(x).toString(), null, '', ''],
  ];
  for (const c of columns) if (!c.error) c.ratio = c.together / c.awaited;
  const table = [];
  table.push(`| SqliteMessageStore op | ${levels.map((l) => `'${l}'`).join(' | ')} | target '${levels[0]}' | target '${levels[1]}' |`);
  table.push(`|---|${levels.map(() => '---:').join('|')}|---|---|`);
  for (const [name, key, fmt, note, t0, t1] of sqliteRows) {
    table.push(`| ${name} | ${columns.map((c) => cell(c, key, fmt, note)).join(' | ')} | ${t0} | ${t1} |`);
  }
  console.log(`\n${table.join('\n')}`);
  for (const [i, c] of columns.entries()) if (c.error) console.log(`\n'${levels[i]}' FAILED: ${c.error}`);
  const c = columns[0];
  if (!c.error) {
    console.log(
      `\nThe ceiling, the same loops with no file: MemoryMessageStore 1,000 saves issued together ${fmtRate(c.memoryTogether)} msg/s, ` +
        `saveMessages ×100 ${fmtRate(c.memoryBatch100)} msg/s; JSON.stringify alone of the same messages ${fmtRate(c.stringifyOne)} msg/s ` +
        `one by one, ${fmtRate(c.stringify100)} msg/s in arrays of 100`,
    );
  }
}

/** A table printed by a script of its own, in a child process; its failure is printed, not thrown. */
function section(skip, label, name, file, flags = []) {
  if (process.env[skip] === '0') return;
  process.stderr.write(`${label}…\n`);
  try {
    const out = execFileSync(process.execPath, [...flags, path.join(__dirname, file)], {
      encoding: 'utf8',
      maxBuffer: 1 << 24,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    console.log(`\n${out.trim()}`);
  } catch (e) {
    console.log(`\n${name} FAILED: ${String(e.message).split('\n')[0]}`);
  }
}

section('BENCH_SUBSCRIPTIONS', 'subscriptions', 'Subscriptions', 'subscriptions.js', ['--max-old-space-size=8192']);
section('BENCH_POSTGRES', 'postgres (beside plain pg)', 'PostgreSQL', 'postgres.js');
section('BENCH_HISTORY', 'history (the message-store command)', 'History', 'history.js');
section('BENCH_LEAKS', 'leaks (RSS)', 'Leaks', 'leaks.js', ['--expose-gc']);

const cpu = os.cpus()[0]?.model || 'unknown CPU';
console.log(
  `\nMachine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
