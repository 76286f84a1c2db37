// A fault in the native code (a Rust panic) must never take the process down: it
// becomes a rejected promise, and the store stays usable and unchanged. The panic is
// triggered through a build made with the cargo feature `test-hooks`
// (`pnpm build:test-hooks`), which the shipped build never has.

import * as fs from 'node:fs';
import * as path from 'node:path';

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

  // A save whose message is not certain to serialise as checked (here a class
  // instance) is made in its call, as reads are: a panic there rejects that call.
  class Boom {
    type = 'Boom';
    data = {};
  }

  test('becomes a rejected promise, and the store stays usable and unchanged', async () => {
    const store = new MemoryMessageStore();
    await store.saveMessage('orders', { type: 'Placed', data: { n: 1 } });

    const saving = store.saveMessage('__panic__', new Boom());
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

  // Other saves are acknowledged once checked and queued (lib/scheduler.js), and reach
  // the engine together before its next call. A panic there loses saves already
  // acknowledged: the store says so on every call until reset(), rather than answer
  // without them.
  test('among queued saves stops the store until reset(), which makes it whole again', async () => {
    const store = new MemoryMessageStore();
    await store.saveMessage('a', { type: 'A0' });
    const results = await Promise.allSettled([
      store.saveMessage('a', { type: 'A1' }),
      store.saveMessage('__panic__', { type: 'Boom' }),
      store.saveMessage('b', { type: 'B1' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const stopped =
      'message store write failed: a save acknowledged earlier did not reach the engine (internal error: deliberate panic for the tests (feature test-hooks)); the store refuses every call until reset()';
    for (const call of [
      () => store.getAllMessages(),
      () => store.getStats(),
      () => store.saveMessage('a', { type: 'A2' }),
      () => store.getStreams(),
    ]) {
      const error = await call().then(
        () => null,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect([error!.message, (error as any).code]).toEqual([stopped, 'ERR_MESSAGE_STORE_WRITE_FAILED']);
    }
    await store.reset();
    expect(await store.getAllMessages()).toEqual([]);
    await store.saveMessage('a', { type: 'A' });
    expect((await store.getAllMessages()).map((m) => [m.streamId, m.message.type, m.revision, m.position])).toEqual([['a', 'A', 0n, 1n]]);
  });
});
