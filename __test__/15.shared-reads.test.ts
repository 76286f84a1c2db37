import { storesOver } from './support/over-native';
import { postgresStore, stores, tempDbPath } from './support/stores';

const { estimate, SEGMENT } = require('../lib/cache.js');
const binding = require('../lib/native.js').load();

/** Estimated bytes of kept messages whose stored JSON texts are `texts`, each with `objects` objects, arrays and Dates (a message, its data, its timestamp). */
const kept = (texts: string[], objects = 3) => texts.reduce((sum, t) => sum + estimate(objects, Buffer.byteLength(t)), 0);

/** The native module with a count of each function's calls. */
function counting() {
  const calls: Record<string, number> = {};
  const native: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(binding)) {
    native[name] = (...args: unknown[]) => {
      calls[name] = (calls[name] ?? 0) + 1;
      return (fn as (...a: unknown[]) => unknown)(...args);
    };
  }
  return { native, calls };
}

describe.each(stores.filter((s) => s.keepsObjects))('$name: what reads keep', ({ create, durable }) => {
  const open = (options: object) =>
    durable
      ? new (require('@auto-engineer/message-store').SqliteMessageStore)(tempDbPath(), options)
      : new (require('@auto-engineer/message-store').MemoryMessageStore)(options);

  test('memoryUsage grows by the estimate of each message a read keeps, once', async () => {
    const store = create();
    await store.saveMessages('s', [
      { type: 'A', data: { x: 1 } },
      { type: 'B', data: { s: 'é' } },
    ]);
    const before = (await store.getStats()).memoryUsage;
    await store.getMessages('s');
    const after = (await store.getStats()).memoryUsage;
    // The stored texts: a message saved without timestamp is stored without it.
    expect(after - before).toBe(Math.round(kept(['{"type":"A","data":{"x":1}}', '{"type":"B","data":{"s":"é"}}'])));
    // 200 a message, 52 an object (the message, its data, its timestamp), and the JSON's bytes.
    expect(after - before).toBe(2 * 200 + 6 * 52 + 27 + 30);
    await store.saveMessage('t', { type: 'N', data: { list: [{ a: 1 }, { b: [2] }] } });
    const saved = (await store.getStats()).memoryUsage;
    const [nested] = await store.getMessages('t');
    expect(nested.message.data.list[1].b).toEqual([2]);
    expect((await store.getStats()).memoryUsage - saved).toBe(200 + 7 * 52 + '{"type":"N","data":{"list":[{"a":1},{"b":[2]}]}}'.length);
    const afterNested = (await store.getStats()).memoryUsage;
    await store.getMessages('s');
    await store.getAllMessages();
    expect((await store.getStats()).memoryUsage).toBe(afterNested);
  });

  test('reset() drops what is kept: memoryUsage 0, and later reads build new objects', async () => {
    const store = create();
    await store.saveMessage('s', { type: 'A' });
    const [first] = await store.getMessages('s');
    await store.reset();
    expect((await store.getStats()).memoryUsage).toBe(0);
    await store.saveMessage('s', { type: 'A' });
    const [again] = await store.getMessages('s');
    expect(again).not.toBe(first);
    expect(again.position).toBe(1n);
  });

  test('with cacheBytes 0 nothing is kept: reads build new, still frozen, objects', async () => {
    const store = open({ cacheBytes: 0 });
    await store.saveMessages('s', [{ type: 'A' }, { type: 'B' }]);
    const before = (await store.getStats()).memoryUsage;
    const [a] = await store.getMessages('s');
    const [b] = await store.getMessages('s');
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    expect(Object.isFrozen(a.message)).toBe(true);
    expect((await store.getStats()).memoryUsage).toBe(before);
  });

  test('the bound holds: the segments read longest ago go first, the oldest records first among them', async () => {
    const texts: string[] = [];
    const messages = Array.from({ length: 5 * SEGMENT }, (_, i) => {
      const m = { type: 'T', data: { i } };
      texts.push(JSON.stringify(m));
      return m;
    });
    // Room for two full segments of these messages, not three.
    const segment = (k: number) => kept(texts.slice(k * SEGMENT, (k + 1) * SEGMENT));
    const bound = Math.ceil(segment(3) + segment(4)) + 10;
    expect(bound).toBeLessThan(segment(2) + segment(3) + segment(4));
    const store = open({ cacheBytes: bound });
    await store.saveMessages('s', messages);
    const native = (await store.getStats()).memoryUsage;

    const all = await store.getMessages('s');
    expect(all).toHaveLength(5 * SEGMENT);
    // Everything was read at once: the last two segments stay.
    expect((await store.getStats()).memoryUsage - native).toBe(Math.round(segment(3) + segment(4)));
    const [kept4] = await store.getMessages('s', BigInt(4 * SEGMENT), 1);
    expect(kept4).toBe(all[all.length - 1]);
    const [rebuilt] = await store.getMessages('s', 0n, 5 * SEGMENT);
    expect(rebuilt).not.toBe(all[0]);

    // Now segment 0 (just read) and 4 (read before) are the newest reads; reading
    // segment 1 must evict segment 3, read longest ago.
    await store.getAllMessages({ fromPosition: 1n, toPosition: BigInt(SEGMENT) });
    await store.getAllMessages({ fromPosition: BigInt(4 * SEGMENT + 1) });
    await store.getAllMessages({ fromPosition: BigInt(SEGMENT + 1), toPosition: BigInt(2 * SEGMENT) });
    const usage = (await store.getStats()).memoryUsage - native;
    expect(usage).toBeLessThanOrEqual(bound);
    const first = await store.getAllMessages({ fromPosition: BigInt(3 * SEGMENT + 1), toPosition: BigInt(3 * SEGMENT + 1) });
    expect(first[0]).not.toBe(all[3 * SEGMENT]);
    expect(first[0]).toEqual(all[3 * SEGMENT]);
  });

  test('a bad cacheBytes is refused with a TypeError', () => {
    for (const [value, described] of [
      [-1, 'the number -1'],
      [1.5, 'the number 1.5'],
      ['10', 'the string "10"'],
      [2 ** 60, `the number ${2 ** 60}`],
    ] as const) {
      expect(() => open({ cacheBytes: value })).toThrow(
        new TypeError(`options.cacheBytes must be a whole number of bytes, at least 0, got ${described}`),
      );
    }
  });
});

test('SqliteMessageStore: dispose() drops what is kept', async () => {
  const { native, calls } = counting();
  const { SqliteMessageStore } = storesOver(native);
  const file = tempDbPath();
  const store = new SqliteMessageStore(file);
  await store.saveMessage('s', { type: 'A' });
  const [first] = await store.getMessages('s');
  expect(calls.build).toBe(1);
  await store.getMessages('s');
  expect(calls.build).toBe(1);
  await store.dispose();
  const again = new SqliteMessageStore(file);
  const [reopened] = await again.getMessages('s');
  expect(calls.build).toBe(2);
  expect(reopened).toEqual(first);
  expect(reopened).not.toBe(first);
  await again.dispose();
});

describe('a store that refuses writes refuses a burst of saves with no native call', () => {
  for (const n of [1000, 8000]) {
    test(`${n} saves after dispose(): each rejected with the closed error, no saveMany`, async () => {
      const { native, calls } = counting();
      const { SqliteMessageStore } = storesOver(native);
      const store = new SqliteMessageStore(tempDbPath());
      await store.saveMessage('s', { type: 'A' });
      await store.dispose();
      const before = { ...calls };
      const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => store.saveMessage('s', { type: 'B', data: { i } })));
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(n);
      for (const r of results as PromiseRejectedResult[]) {
        expect([r.reason.message, r.reason.code]).toEqual([
          'the store is closed (disposed); open the file again to use it',
          'ERR_MESSAGE_STORE_CLOSED',
        ]);
      }
      expect(calls).toEqual(before);
    });
  }

  test('saves issued together reach the engine in one call, and a read sees them all', async () => {
    const { native, calls } = counting();
    const { MemoryMessageStore } = storesOver(native);
    const store = new MemoryMessageStore();
    const saves = Array.from({ length: 300 }, (_, i) => store.saveMessage(`s${i % 3}`, { type: 'A', data: { i } }));
    expect(calls.saveManyLater ?? 0).toBe(0);
    const all = await store.getAllMessages();
    // A memory store's queue goes to the engine's backlog (applied on the thread pool, or by the read).
    expect([calls.saveManyLater, calls.saveMany ?? 0]).toEqual([1, 0]);
    expect(all.map((m: any) => m.message.data.i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await Promise.all(saves);
  });
});

test('PostgresMessageStore keeps nothing: each read builds new frozen objects, and memoryUsage does not grow with reads', async () => {
  const store = postgresStore.create();
  await store.saveMessages('s', [
    { type: 'A', data: { x: 1 } },
    { type: 'B', data: { s: 'é' } },
  ]);
  const before = (await store.getStats()).memoryUsage;
  const [a] = await store.getMessages('s');
  const [b] = await store.getMessages('s');
  expect(a).toEqual(b);
  expect(a).not.toBe(b);
  expect([Object.isFrozen(a), Object.isFrozen(a.message), Object.isFrozen(a.message.data)]).toEqual([true, true, true]);
  await store.getAllMessages();
  expect((await store.getStats()).memoryUsage).toBe(before);
});
