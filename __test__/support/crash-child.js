'use strict';

// The child of the crash test (96.sqlite-crash.test.ts):
//   node crash-child.js <file> <durability> <seed> <run>
// Opens the file and saves forever (single saves awaited, batches awaited, bursts of
// saves issued together, sessions now and then) until the parent kills it with
// SIGKILL. Each acknowledgement is reported on stdout, one JSON line, written with
// fs.writeSync before anything else happens, so a line the parent has is a promise
// that resolved:
//   {"ready":true,"positions":N}                      the store is open
//   {"s":stream,"m":[message...],"x":sessionId,"t":messageType|null}   a save resolved
//   {"session":id}                                     createSession resolved
//   {"ended":id,"at":ms}                               endSession resolved (called at or after `at`)
//   {"error":text}                                     something failed (then exit 1)
// Every message carries data.id (unique over all runs) and, in a batch, data.batch,
// data.size and data.index, so the parent can check that no batch is partial.

const fs = require('node:fs');
const path = require('node:path');

const { SqliteMessageStore } = require(path.resolve(__dirname, '../..'));
const { rng } = require('./prng.js');

const [file, durability, seedText, runText] = process.argv.slice(2);
const run = Number(runText);

const random = rng(Number(seedText));
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(random() * xs.length)];

/** Writes a whole line to fd 1 now, retrying while a non-blocking pipe is full. */
function report(value) {
  const buf = Buffer.from(`${JSON.stringify(value)}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(1, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
    }
  }
}

const STREAMS = ['orders-1', 'orders-2', 'user-commands', 'billing-events', 'a stream with ünïcödé ✓'];
const NAMES = ['PlaceOrder', 'OrderPlaced', 'ShipOrder', 'PaymentTaken'];

let k = 0;
let batches = 0;

function message(extra) {
  const id = `r${run}-m${k++}`;
  const m = {
    type: pick(NAMES),
    data: {
      id,
      amount: int(0, 100000) / 100,
      tags: ['x', String(k)],
      nested: { ok: random() < 0.5, note: 'é'.repeat(int(0, 5)) },
      ...extra,
    },
  };
  if (random() < 0.3) m.requestId = `req-${id}`;
  if (random() < 0.2) m.correlationId = `corr-${run}-${Math.floor(k / 10)}`;
  // Some carry their own timestamp (a whole millisecond, as JSON keeps it).
  if (random() < 0.1) m.timestamp = new Date(Date.UTC(2020, 0, 1) + int(0, 1e9));
  return m;
}

/** What the parent compares: the message as JSON gives it back. */
const wire = (m) => JSON.parse(JSON.stringify(m));

async function main() {
  const store = new SqliteMessageStore(file, { durability });
  const stats = await store.getStats();
  // Revisions as this child expects them, to save with expectedRevision sometimes.
  const revisions = new Map();
  for (const s of STREAMS) {
    const info = await store.getStreamInfo(s);
    revisions.set(s, info ? info.revision : -1n);
  }
  report({ ready: true, positions: stats.totalMessages });
  let session = 'no-session';

  // Issues one save (not awaited) and returns its promise, which reports on resolve.
  const save = (stream, messages, batch) => {
    const type = random() < 0.2 ? pick(['command', 'event']) : undefined;
    const expected = random() < 0.3 ? revisions.get(stream) : undefined;
    const x = session;
    const p = batch ? store.saveMessages(stream, messages, expected, type) : store.saveMessage(stream, messages[0], expected, type);
    revisions.set(stream, revisions.get(stream) + BigInt(messages.length));
    const line = { s: stream, m: messages.map(wire), x, t: type ?? null };
    return p.then(() => report(line));
  };

  for (;;) {
    const r = random();
    if (r < 0.55) {
      await save(pick(STREAMS), [message()], false);
    } else if (r < 0.82) {
      const size = int(2, 50);
      const batch = `r${run}-b${batches++}`;
      const ms = [];
      for (let i = 0; i < size; i++) ms.push(message({ batch, size, index: i }));
      await save(pick(STREAMS), ms, true);
    } else if (r < 0.95) {
      const n = int(10, 100);
      const ps = [];
      for (let i = 0; i < n; i++) {
        if (random() < 0.2) {
          const size = int(2, 10);
          const batch = `r${run}-b${batches++}`;
          const ms = [];
          for (let j = 0; j < size; j++) ms.push(message({ batch, size, index: j }));
          ps.push(save(pick(STREAMS), ms, true));
        } else {
          ps.push(save(pick(STREAMS), [message()], false));
        }
      }
      await Promise.all(ps);
    } else if (r < 0.98) {
      session = await store.createSession();
      report({ session });
    } else if (session !== 'no-session') {
      const ended = session;
      const at = Date.now();
      const p = store.endSession(ended);
      session = 'no-session';
      await p;
      report({ ended, at });
    }
  }
}

main().catch((e) => {
  report({ error: String(e?.stack || e) });
  process.exit(1);
});
