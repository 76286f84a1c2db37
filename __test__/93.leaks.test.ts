// No native memory leaks, by exact counts: the tests' build (`pnpm build:test-hooks`)
// counts every live Rust allocation of the addon (bytes and allocations), SQLite's
// own bytes, and the live native store handles (src/binding/native_stats.rs). Each
// phase runs in a process of its own (support/leaks-child.cjs, with --expose-gc),
// measures its baseline after a warm-up, and prints the counts; every assertion here
// is an equality of counts (or that held stores hold something), never a ratio of
// RSS or a time, so a busy machine cannot fail it. The RSS view of the same is in
// the benchmark (`pnpm bench`, benchmark/leaks.js).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
const child = path.resolve(__dirname, 'support/leaks-child.cjs');

interface Stats {
  liveStores: number;
  livePgStores: number;
  liveBytes: number;
  liveAllocations: number;
  sqliteBytes: number;
}

function phase(name: string, ...args: string[]): Promise<any> {
  if (!fs.existsSync(testBuild)) throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first`);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', child, name, ...args], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${name}: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

// Each store of the phases holds 500 messages of about 130 bytes of JSON: far more
// native memory than this, so that "back to the baseline" means something.
const HOLDS = (messages: number) => messages * 100;

describe.each(['memory', 'sqlite'])('%s stores, dropped', (kind) => {
  test('are counted while held, and once collected leave native memory exactly as before, cycle after cycle', async () => {
    const { base, cycles, stores, messages } = await phase(`drop-${kind}`);
    expect(cycles).toHaveLength(3);
    for (const { held, after } of cycles as { held: Stats; after: Stats }[]) {
      expect([held.liveStores, held.livePgStores]).toEqual([base.liveStores + stores, base.livePgStores]);
      expect(held.liveBytes - base.liveBytes).toBeGreaterThan(HOLDS(stores * messages));
      if (kind === 'sqlite') expect(held.sqliteBytes).toBeGreaterThan(base.sqliteBytes);
      // Every byte and every allocation, Rust's and SQLite's, is given back.
      expect(after).toEqual(base);
    }
  });
});

test('dispose() gives a SQLite store native memory back at once, while the store is still referenced', async () => {
  const { base, empty, filled, stores, messages } = await phase('dispose');
  for (const round of [empty, filled]) {
    expect(round.held.liveStores).toBe(base.liveStores + stores);
    // Disposed, but still referenced: the handles are alive...
    expect(round.disposed.liveStores).toBe(base.liveStores + stores);
    // ...and SQLite holds nothing for them any more.
    expect(round.disposed.sqliteBytes).toBe(base.sqliteBytes);
    // Dropped: as before.
    expect(round.after).toEqual(base);
  }
  expect(filled.held.liveBytes - base.liveBytes).toBeGreaterThan(HOLDS(stores * messages));
  // A disposed store that held 500 messages keeps exactly what one disposed empty does.
  expect(filled.disposed).toEqual(empty.disposed);
});

describe.each(['memory', 'sqlite'])('a %s store reset', (kind) => {
  test('has exactly the native memory of the empty store again, round after round', async () => {
    const { empty, rounds, left } = await phase(`reset-${kind}`);
    expect(rounds).toHaveLength(5);
    for (const { messageCount, filled, after } of rounds) {
      expect(messageCount).toBe(5000);
      expect(filled.liveBytes - empty.liveBytes).toBeGreaterThan(HOLDS(5000));
      expect(after).toEqual(empty);
    }
    expect(left).toBe(0);
  });
});

test('stores dropped in a loop that never yields are all alive until it yields, and released after', async () => {
  const { base, loops, storesPerLoop } = await phase('tight');
  expect(loops).toHaveLength(2);
  for (const { beforeYield, after } of loops) {
    // Node runs the finalizers of collected native objects from the event loop: even
    // after a full gc, no store of the loop is freed before it turns.
    expect(beforeYield.liveStores).toBe(base.liveStores + storesPerLoop);
    expect(beforeYield.liveBytes - base.liveBytes).toBeGreaterThan(HOLDS(storesPerLoop * 500));
    expect(after).toEqual(base);
  }
});

test('PostgresMessageStores (not connected) are counted while held and leave nothing once collected', async () => {
  const { base, cycles, stores } = await phase('postgres');
  expect(cycles).toHaveLength(3);
  for (const { held, after } of cycles as { held: Stats; after: Stats }[]) {
    expect([held.livePgStores, held.liveStores]).toEqual([base.livePgStores + stores, base.liveStores]);
    expect(after).toEqual(base);
  }
});

// The check itself: a store kept alive by mistake is seen.
test('a store kept referenced is counted as a leak', async () => {
  const { base, cycles, messages } = await phase('drop-memory', 'leak');
  const [first] = cycles as { after: Stats }[];
  expect(first.after.liveStores).toBe(base.liveStores + 1);
  expect(first.after.liveBytes - base.liveBytes).toBeGreaterThan(HOLDS(messages));
});
