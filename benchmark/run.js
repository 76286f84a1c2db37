'use strict';

// `pnpm bench`: runs each trial in a fresh child process and prints one table.
// Each trial is trial.js; the workload is workload.js. Figures are medians of at
// least 3 runs after a warm-up. Set BENCH_SIZES (e.g. "10000,100000") or
// BENCH_ONE_STREAM (0 to skip, or a message count) to run less.

const { execFileSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const sizes = (process.env.BENCH_SIZES || '10000,100000,1000000').split(',').map(Number);
const oneStream = Number(process.env.BENCH_ONE_STREAM ?? 10_000_000);

function trial(args, heapMB) {
  const flags = ['--expose-gc'];
  if (heapMB) flags.push(`--max-old-space-size=${heapMB}`);
  const out = execFileSync(process.execPath, [...flags, path.join(__dirname, 'trial.js'), ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const result = JSON.parse(out.trim().split('\n').pop());
  if (result.error) throw new Error(result.error);
  return result;
}

const fmtRate = (x) => (x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US'));
const fmtMs = (x) => (x === undefined ? 'n/a' : x < 1 ? x.toFixed(3) : x < 100 ? x.toFixed(1) : Math.round(x).toLocaleString('en-US'));

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

const label = (n) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
const lines = [];
lines.push(`| op | ${results.map((r) => label(r.n)).join(' | ')} | target |`);
lines.push(`|---|${results.map(() => '---:').join('|')}|---|`);
for (const [name, key, fmt, target] of rows) {
  lines.push(`| ${name} | ${results.map((r) => fmt(r[key])).join(' | ')} | ${target} |`);
}
console.log(lines.join('\n'));

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

const cpu = (os.cpus()[0] || {}).model || 'unknown CPU';
console.log(`\nMachine: ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
