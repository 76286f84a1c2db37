// SqliteMessageStore when a write to its file fails (disk full, I/O error): the saves
// the write held reject with the cause, the store refuses every further change with a
// clear error (reads go on), and reopening the file recovers exactly what was written.
// A full disk is made with SQLite's max_page_count, through a hook compiled only into
// the tests' own build (`pnpm build:test-hooks`, cargo feature `test-hooks`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { storesOver } from './support/over-native';
import { tempDbPath } from './support/stores';

const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');

// The classes over the test build, with the native handle of the last store opened.
function storesOverTestBuild() {
  if (!fs.existsSync(testBuild)) throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first`);
  const real = require(testBuild);
  const opened: unknown[] = [];
  const native = { ...real, openSqlite: (...args: unknown[]) => opened[opened.push(real.openSqlite(...args)) - 1] };
  return { ...storesOver(native), limitPages: (pages: number) => real.testLimitPages(opened.at(-1), pages) };
}

for (const durability of ['process', 'power'] as const) {
  test(`a failed write rejects its saves, refuses later changes, and loses nothing written (${durability})`, async () => {
    const { SqliteMessageStore, limitPages } = storesOverTestBuild();
    const file = tempDbPath();
    const store = new SqliteMessageStore(file, { durability });
    await store.saveMessages('orders', [
      { type: 'A', data: { n: 1 } },
      { type: 'B', data: { n: 2 } },
    ]);
    const id = await store.createSession();
    await store.saveMessage('orders', { type: 'C', data: { n: 3 } });

    limitPages(1);
    const big = Array.from({ length: 500 }, (_, i) => ({ type: 'Big', data: { i, pad: 'x'.repeat(500) } }));
    const first = store.saveMessages('big', big);
    const second = store.saveMessage('orders', { type: 'D' });
    const cause = /^message store write failed: .*database or disk is full/;
    await expect(first).rejects.toThrow(cause);
    await expect(second).rejects.toThrow(cause);
    await expect(first).rejects.toHaveProperty('code', 'ERR_MESSAGE_STORE_WRITE_FAILED');

    const refused =
      /^message store write failed: writes are refused since an earlier write failed \(.*database or disk is full.*\); reopen the file$/;
    await expect(store.saveMessage('orders', { type: 'E' })).rejects.toThrow(refused);
    await expect(store.createSession()).rejects.toThrow(refused);
    await expect(store.endSession(id)).rejects.toThrow(refused);
    await expect(store.reset()).rejects.toThrow(refused);
    // Reads go on (and still show what the failed write held).
    expect((await store.getMessages('orders')).length).toBe(4);
    await store.dispose();

    const reopened = new SqliteMessageStore(file, { durability });
    const all = await reopened.getAllMessages();
    expect(all.map((m: { message: { type: string }; position: bigint }) => [m.message.type, m.position])).toEqual([
      ['A', 1n],
      ['B', 2n],
      ['C', 3n],
    ]);
    expect(await reopened.getStreams()).toEqual(['orders', `session-${id}`]);
    expect((await reopened.getSessionInfo(id)).messageCount).toBe(1);
    await reopened.saveMessage('orders', { type: 'After' });
    expect(
      (await reopened.getMessages('orders')).map((m: { revision: bigint; position: bigint }) => [m.revision, m.position]).at(-1),
    ).toEqual([3n, 4n]);
    await reopened.dispose();
  });
}
