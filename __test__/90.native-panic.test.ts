// A fault in the native code (a Rust panic) must never take the process down: it
// becomes a rejected promise, and the store stays usable and unchanged. The panic is
// triggered through a build made with the cargo feature `test-hooks`
// (`pnpm build:test-hooks`), which the shipped build never has.
import * as path from 'node:path';
import * as fs from 'node:fs';

const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');

describe('a Rust panic', () => {
  let MemoryMessageStore: typeof import('@auto-engineer/message-store').MemoryMessageStore;

  beforeAll(() => {
    if (!fs.existsSync(testBuild)) throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first`);
    // The generated loader honours this variable; the module registry is this file's own.
    process.env.NAPI_RS_NATIVE_LIBRARY_PATH = testBuild;
    ({ MemoryMessageStore } = require('@auto-engineer/message-store'));
    delete process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  });

  test('becomes a rejected promise, and the store stays usable and unchanged', async () => {
    const store = new MemoryMessageStore();
    await store.saveMessage('orders', { type: 'Placed', data: { n: 1 } });

    const saving = store.saveMessage('__panic__', { type: 'Boom', data: {} });
    await expect(saving).rejects.toBeInstanceOf(Error);
    await expect(saving).rejects.toThrow(
      '@auto-engineer/message-store: internal error: deliberate panic for the tests (feature test-hooks)',
    );

    expect(await store.getStreams()).toEqual(['orders']);
    const { memoryUsage, ...stats } = await store.getStats();
    expect(stats.totalMessages).toBe(1);
    expect(memoryUsage).toBeGreaterThan(0);
    await store.saveMessage('orders', { type: 'Shipped', data: { n: 2 } });
    const read = await store.getMessages('orders');
    expect(read.map((m) => [m.message.type, m.revision, m.position])).toEqual([
      ['Placed', 0n, 1n],
      ['Shipped', 1n, 2n],
    ]);
  });

  // Saves issued in one turn reach the engine in one call (lib/store.js): a panic in
  // the middle of them rejects that save alone, and those after it are still made.
  test('in the middle of saves issued together rejects that save alone', async () => {
    const store = new MemoryMessageStore();
    const results = await Promise.allSettled([
      store.saveMessage('a', { type: 'A1' }),
      store.saveMessage('b', { type: 'B1' }),
      store.saveMessage('__panic__', { type: 'Boom' }),
      store.saveMessage('a', { type: 'A2' }),
      store.saveMessage('__panic__', { type: 'Boom' }),
      store.saveMessage('b', { type: 'B2' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    for (const r of [results[2], results[4]]) {
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(Error);
      expect((r as PromiseRejectedResult).reason.message).toBe(
        '@auto-engineer/message-store: internal error: deliberate panic for the tests (feature test-hooks)',
      );
    }
    const all = await store.getAllMessages();
    expect(all.map((m) => [m.streamId, m.message.type, m.revision, m.position])).toEqual([
      ['a', 'A1', 0n, 1n],
      ['b', 'B1', 0n, 2n],
      ['a', 'A2', 1n, 3n],
      ['b', 'B2', 1n, 4n],
    ]);
    expect(await store.getStreams()).toEqual(['a', 'b']);
  });
});
