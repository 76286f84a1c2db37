// The capacity: one number, the engine's (Rust's `MAX_MESSAGES`, 2^31 - 1), which the
// JavaScript face reads from each store (`capacity()`) and checks every save against
// before acknowledging it. Reached here through the tests' own build, whose hook
// (`testCapacity`) lowers one store's capacity. PostgreSQL numbers positions with
// `bigint` and has no such limit (docs/behaviour.md#refused).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { storesOver } from './support/over-native';
import { tempDbPath } from './support/stores';

const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
const release = require('../lib/native.js').load();

function overTestBuild() {
  if (!fs.existsSync(testBuild)) throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first`);
  const real = require(testBuild);
  const made: unknown[] = [];
  const keep = (h: unknown) => made[made.push(h) - 1];
  const native = { ...real, create: () => keep(real.create()), openSqlite: (...a: unknown[]) => keep(real.openSqlite(...a)) };
  return { ...storesOver(native), real, last: () => made.at(-1) };
}

test("every store's capacity is the engine's one number, 2^31 - 1", () => {
  expect(release.capacity(release.create())).toBe(2 ** 31 - 1);
  const { MemoryMessageStore, real, last } = overTestBuild();
  new MemoryMessageStore();
  expect(real.capacity(last())).toBe(2147483647);
});

describe.each(['MemoryMessageStore', 'SqliteMessageStore'] as const)('%s at its capacity', (name) => {
  async function atCapacity(n: number, debug = false) {
    const { real } = overTestBuild();
    const file = tempDbPath();
    // The hook lowers the capacity of each store made, before the face reads it.
    const lowered = (h: unknown) => {
      real.testCapacity(h, n);
      return h;
    };
    const { MemoryMessageStore, SqliteMessageStore } = storesOver({
      ...real,
      create: () => lowered(real.create()),
      openSqlite: (...a: unknown[]) => lowered(real.openSqlite(...a)),
    });
    const store = name === 'MemoryMessageStore' ? new MemoryMessageStore() : new SqliteMessageStore(file);
    if (debug) {
      const d = require('debug');
      d.log = () => undefined; // the lines themselves are 91.debug-logging's
      d.enable('auto:message-store:test');
    }
    return { store, file };
  }
  afterEach(() => {
    const d = require('debug');
    d.disable();
    delete d.log;
  });

  test('saves up to the capacity are kept; the one past it is refused in its call, whole, and nothing changes', async () => {
    const { store } = await atCapacity(5);
    await store.saveMessages('s', [{ type: 'A' }, { type: 'B' }, { type: 'C' }]);
    await store.saveMessage('s', { type: 'D' });
    await expect(store.saveMessages('s', [{ type: 'E' }, { type: 'F' }])).rejects.toThrow(
      new RangeError('the store cannot hold more than 5 messages'),
    );
    await store.saveMessage('t', { type: 'E' });
    await expect(store.saveMessage('u', { type: 'F' })).rejects.toThrow(new RangeError('the store cannot hold more than 5 messages'));
    const stats = await store.getStats();
    expect([stats.totalMessages, stats.totalStreams]).toEqual([5, 2]);
    expect((await store.getAllMessages()).map((m: any) => `${m.streamId}#${m.position}`)).toEqual(['s#1', 's#2', 's#3', 's#4', 't#5']);
    await store.dispose();
  });

  test("a save the engine makes in its call (debug logging on) is refused with the engine's text, the same", async () => {
    const { store } = await atCapacity(2, true);
    await store.saveMessage('s', { type: 'A' });
    await store.saveMessage('s', { type: 'B' });
    const refused = await store.saveMessage('s', { type: 'C' }).catch((e: Error) => e);
    expect(refused).toBeInstanceOf(RangeError);
    expect((refused as Error).message).toBe('the store cannot hold more than 2 messages');
    expect((await store.getStats()).totalMessages).toBe(2);
    await store.dispose();
  });
});
