// The addon in worker_threads. It loads in a worker; two workers,
// each with its own store, work at the same time without sharing anything; a worker
// that exits or is terminated while it holds a store full of messages does not crash
// the main process, which carries on (new workers, new stores, its own store intact).

import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MemoryMessageStore } from '@auto-engineer/message-store';

const pkg = path.resolve(__dirname, '..');

// Every worker script starts with this: the package by its absolute path, and a
// helper that reports a read in plain data (bigints and Dates as strings).
const prelude = `
const { parentPort, workerData } = require('worker_threads');
const { MemoryMessageStore } = require(workerData.pkg);
const plain = (x) => JSON.parse(JSON.stringify(x, (k, v) => (typeof v === 'bigint' ? 'n' + v.toString() : v)));
`;

interface Outcome {
  messages: any[];
  exitCode: number;
  error?: Error;
}

/** Runs an inline worker to its end: every message it posted, its exit code, its error. */
function runWorker(code: string, workerData: Record<string, unknown> = {}, onMessage?: (m: any, w: Worker) => void): Promise<Outcome> {
  return new Promise((resolve) => {
    const worker = new Worker(prelude + code, { eval: true, workerData: { pkg, ...workerData } });
    const messages: any[] = [];
    let error: Error | undefined;
    worker.on('message', (m) => {
      messages.push(m);
      onMessage?.(m, worker);
    });
    worker.on('error', (e) => (error = e));
    worker.on('exit', (exitCode) => resolve({ messages, exitCode, error }));
  });
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => i + from);

// A store in the main thread, filled before any worker runs; checked after each test.
let mainStore: InstanceType<typeof MemoryMessageStore>;
let mainSnapshot: unknown;

beforeAll(async () => {
  mainStore = new MemoryMessageStore();
  await mainStore.saveMessages(
    'orders',
    range(100).map((i) => ({ type: 'Main', data: { i } })),
  );
  await mainStore.saveMessage('shared-name', { type: 'MainOnly', data: { from: 'main' } });
  mainSnapshot = { all: await mainStore.getAllMessages(), streams: await mainStore.getStreams(), stats: await mainStore.getStats() };
});

afterEach(async () => {
  // The main thread's store is unaffected by anything a worker did.
  expect({ all: await mainStore.getAllMessages(), streams: await mainStore.getStreams(), stats: await mainStore.getStats() }).toEqual(
    mainSnapshot,
  );
  // And the main thread can still make and use a new store.
  const fresh = new MemoryMessageStore();
  await fresh.saveMessage('orders', { type: 'Fresh', data: { ok: true } });
  const [m] = await fresh.getMessages('orders');
  expect([m.position, m.revision, m.message.data]).toEqual([1n, 0n, { ok: true }]);
});

test('the addon loads in a worker, which saves and reads', async () => {
  const out = await runWorker(`
    (async () => {
      const store = new MemoryMessageStore();
      await store.saveMessage('orders', { type: 'CreateOrder', data: { id: 'o-1', n: 1 }, requestId: 'r-1' });
      await store.saveMessages('orders', [{ type: 'OrderCreated', data: { id: 'o-1' } }], 0n);
      const read = await store.getMessages('orders');
      parentPort.postMessage({
        read: plain(read),
        isBigint: typeof read[0].position === 'bigint',
        isDate: read[0].timestamp instanceof Date,
        json: JSON.parse(await store.getMessagesJson('orders')).map((m) => [m.position, m.revision, m.message.type]),
        streams: await store.getStreams(),
        stats: plain(await store.getStats()),
      });
    })();
  `);
  expect(out.error).toBeUndefined();
  expect(out.exitCode).toBe(0);
  expect(out.messages).toHaveLength(1);
  const r = out.messages[0];
  expect(r.isBigint).toBe(true);
  expect(r.isDate).toBe(true);
  expect(r.read.map((m: any) => [m.streamId, m.messageType, m.revision, m.position, m.sessionId, m.message.type, m.message.data])).toEqual([
    ['orders', 'command', 'n0', 'n1', 'no-session', 'CreateOrder', { id: 'o-1', n: 1 }],
    ['orders', 'event', 'n1', 'n2', 'no-session', 'OrderCreated', { id: 'o-1' }],
  ]);
  expect(r.json).toEqual([
    ['1', '0', 'CreateOrder'],
    ['2', '1', 'OrderCreated'],
  ]);
  expect(r.streams).toEqual(['orders']);
  expect(r.stats.totalMessages).toBe(2);
  expect(r.stats.totalStreams).toBe(1);
});

test('two workers, each with its own store, save to the same stream name at the same time without sharing state', async () => {
  const N = 5000;
  // Both workers wait at this barrier until the other has its store, then save N
  // messages each, one call at a time, yielding to their event loops in between.
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    (async () => {
      const { id, n, barrier } = workerData;
      const store = new MemoryMessageStore();
      Atomics.add(barrier, 0, 1);
      Atomics.notify(barrier, 0);
      while (Atomics.load(barrier, 0) < 2) Atomics.wait(barrier, 0, 1, 50);
      const started = Date.now();
      for (let i = 0; i < n; i++) {
        await store.saveMessage('orders', { type: 'Saved', data: { worker: id, i }, correlationId: id });
        if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      }
      const finished = Date.now();
      const read = await store.getMessages('orders');
      const all = await store.getAllMessages();
      const mismatches = [];
      read.forEach((m, i) => {
        if (m.position !== BigInt(i + 1) || m.revision !== BigInt(i) || m.message.data.worker !== id || m.message.data.i !== i || m.streamId !== 'orders')
          mismatches.push(plain(m));
      });
      parentPort.postMessage({
        id, started, finished,
        count: read.length,
        allCount: all.length,
        first: plain(read[0]).position, last: plain(read[read.length - 1]).position,
        lastRevision: plain(read[read.length - 1]).revision,
        mismatches: mismatches.slice(0, 3),
        foreign: (await store.getAllMessages({ correlationId: id === 'A' ? 'B' : 'A' })).length,
        streams: await store.getStreams(),
        stats: plain(await store.getStats()),
      });
    })();
  `;
  const [a, b] = await Promise.all([runWorker(code, { id: 'A', n: N, barrier }), runWorker(code, { id: 'B', n: N, barrier })]);
  for (const [id, out] of [
    ['A', a],
    ['B', b],
  ] as const) {
    expect(out.error).toBeUndefined();
    expect(out.exitCode).toBe(0);
    const r = out.messages[0];
    expect({
      id: r.id,
      count: r.count,
      allCount: r.allCount,
      first: r.first,
      last: r.last,
      lastRevision: r.lastRevision,
      mismatches: r.mismatches,
      foreign: r.foreign,
      streams: r.streams,
    }).toEqual({
      id,
      count: N,
      allCount: N,
      first: 'n1',
      last: `n${N}`,
      lastRevision: `n${N - 1}`,
      mismatches: [],
      foreign: 0,
      streams: ['orders'],
    });
    expect(r.stats.totalMessages).toBe(N);
    expect(r.stats.totalCommands + r.stats.totalEvents).toBe(N);
  }
  // They really ran at the same time: each one's saving overlapped the other's.
  const ra = a.messages[0];
  const rb = b.messages[0];
  expect(ra.started < rb.finished && rb.started < ra.finished).toBe(true);
});

const holdStore = `
  const store = new MemoryMessageStore();
  const fill = async () => {
    for (let k = 0; k < 20; k++) {
      await store.saveMessages('held-' + (k % 3), Array.from({ length: 1000 }, (_, i) => ({ type: 'Held', data: { k, i, pad: 'x'.repeat(100) } })));
    }
    return (await store.getStats()).totalMessages;
  };
`;

test('a worker that calls process.exit while holding a store full of messages ends cleanly', async () => {
  const out = await runWorker(`${holdStore}
    (async () => {
      const n = await fill();
      parentPort.postMessage({ n, memoryUsage: (await store.getStats()).memoryUsage });
      process.exit(3);
    })();
  `);
  expect(out.error).toBeUndefined();
  expect(out.exitCode).toBe(3);
  expect(out.messages[0].n).toBe(20_000);
  expect(out.messages[0].memoryUsage).toBeGreaterThan(2_000_000);
});

test('a worker that calls process.exit in the middle of a save loop ends cleanly', async () => {
  const out = await runWorker(`${holdStore}
    (async () => {
      await fill();
      let i = 0;
      const tick = async () => {
        for (;;) {
          await store.saveMessage('busy', { type: 'Busy', data: { i: i++ } });
          if (i === 5000) process.exit(4);
        }
      };
      tick();
    })();
  `);
  expect(out.error).toBeUndefined();
  expect(out.exitCode).toBe(4);
});

test('worker.terminate() of an idle worker holding a store ends it cleanly', async () => {
  const out = await runWorker(
    `${holdStore}
    (async () => {
      const n = await fill();
      setInterval(() => {}, 1000); // stays alive, idle, until terminated
      parentPort.postMessage({ n });
    })();
  `,
    {},
    (_m, w) => void w.terminate(),
  );
  expect(out.error).toBeUndefined();
  expect(out.exitCode).toBe(1);
  expect(out.messages).toEqual([{ n: 20_000 }]);
});

test('worker.terminate() of a worker busy saving and reading ends it cleanly', async () => {
  const out = await runWorker(
    `${holdStore}
    (async () => {
      await fill();
      parentPort.postMessage('busy');
      // Synchronous native calls back to back, never yielding: terminate() has to stop it between two.
      for (let i = 0; ; i++) {
        store.saveMessage('busy', { type: 'Busy', data: { i } });
        if (i % 100 === 0) store.getMessages('held-0', 0n, 50);
      }
    })();
  `,
    {},
    (_m, w) => void setTimeout(() => void w.terminate(), 50),
  );
  expect(out.error).toBeUndefined();
  expect(out.exitCode).toBe(1);
  expect(out.messages).toEqual(['busy']);
});

test('a worker that throws while holding a store reports the error and ends; the next worker works', async () => {
  const out = await runWorker(`${holdStore}
    (async () => {
      await fill();
      await store.saveMessage('s', { type: 'A' }, 5n).catch((e) => parentPort.postMessage(e.message));
      throw new Error('worker failed on purpose');
    })();
  `);
  expect(out.messages).toEqual(['Stream s does not exist, but expected revision 5 was provided']);
  expect(out.error?.message).toBe('worker failed on purpose');
  expect(out.exitCode).toBe(1);

  const next = await runWorker(`
    (async () => {
      const store = new MemoryMessageStore();
      await store.saveMessage('s', { type: 'A', data: { ok: 1 } });
      parentPort.postMessage(plain(await store.getMessages('s')).map((m) => [m.position, m.message.data]));
    })();
  `);
  expect(next.exitCode).toBe(0);
  expect(next.messages).toEqual([[['n1', { ok: 1 }]]]);
});

test('workers that load the addon, fill a store and end, one after another and ten at once, leave the process working', async () => {
  const code = `${holdStore}
    (async () => {
      const n = await fill();
      const last = await store.getMessages('held-1', undefined, 1);
      parentPort.postMessage([n, plain(last)[0].position]);
      if (workerData.how === 'exit') process.exit(0);
    })();
  `;
  for (const how of ['end', 'exit', 'end']) {
    const out = await runWorker(code, { how });
    expect(out.exitCode).toBe(0);
    expect(out.messages).toEqual([[20_000, 'n20000']]);
  }
  const many = await Promise.all(range(10).map((i) => runWorker(code, { how: i % 2 ? 'exit' : 'end' })));
  expect(many.map((o) => [o.exitCode, o.messages])).toEqual(range(10).map(() => [0, [[20_000, 'n20000']]]));
});

test("a worker's store memory is freed when the worker ends, exits or is terminated", async () => {
  const code = `
    (async () => {
      const store = new MemoryMessageStore();
      const batch = Array.from({ length: 10000 }, (_, i) => ({ type: 'T', data: { i, pad: 'x'.repeat(100) } }));
      for (let k = 0; k < 10; k++) await store.saveMessages('s', batch);
      parentPort.postMessage((await store.getStats()).memoryUsage);
      if (workerData.how === 'exit') process.exit(0);
      if (workerData.how === 'terminate') setInterval(() => {}, 1000);
    })();
  `;
  const once = async (how: string) => {
    const out = await runWorker(code, { how }, (_m, w) => void (how === 'terminate' && w.terminate()));
    expect(out.exitCode).toBe(how === 'terminate' ? 1 : 0);
    return out.messages[0] as number;
  };
  for (const how of ['end', 'exit', 'terminate']) await once(how); // warm-up
  const base = process.memoryUsage().rss;
  let native = 0;
  for (let i = 0; i < 5; i++) for (const how of ['end', 'exit', 'terminate']) native += await once(how);
  const growth = process.memoryUsage().rss - base;
  // 15 workers held ~270 MB of native memory between them; were it not freed at their end, RSS would grow by that much.
  expect(native).toBeGreaterThan(200 * 1024 * 1024);
  expect({ growthMB: Math.round(growth / 1048576), ok: growth < native / 4 }).toEqual({ growthMB: expect.any(Number), ok: true });
});
