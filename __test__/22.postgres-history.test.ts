// PostgresMessageStore's history (src/postgres/history.rs): a memory store's history
// imported in chunks reads back identical in every field and exports the very same
// text; a schema that holds anything is refused as the engine refuses it; a chunk that
// fails changes nothing, so the chunks before it stay whole and counted; subscribers in
// other processes hear of imported messages as of saved ones; and how fast it imports.
import * as path from 'node:path';
import { MemoryMessageStore, PostgresMessageStore } from '@auto-engineer/message-store';
import { rejection, snapshot, text } from './support/history';
import { take, within } from './support/pull';

const url = process.env.DATABASE_URL as string;
const native = require('../lib/native').load();
const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
let schemas = 0;
const freshSchema = () => `hist_${process.pid}_${Date.now().toString(36)}_${++schemas}`;
const open: PostgresMessageStore[] = [];
function store(schema = freshSchema()) {
  const s = new PostgresMessageStore({ connectionString: url, schema });
  open.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(open.map((s) => s.dispose()));
});

/**
 * Every kind of field: commands and events, with and without a timestamp (first, last,
 * in between), sessions (one ended, one still current), empty streams, odd names, and
 * `bulk` messages over many streams (`bulk` × about 200 bytes of text).
 */
async function fill(s: any, bulk = 0) {
  await s.saveMessages('empty-first', []);
  await s.saveMessage('orders-1', { type: 'PlaceOrder', data: { total: 30 }, requestId: 'r-1' });
  await s.saveMessages('orders-1', [
    { type: 'OrderPlaced', data: { total: 30 }, correlationId: 'c-1' },
    { type: 'OrderShipped', data: { by: 'post' }, timestamp: new Date('2020-01-02T03:04:05.678Z') },
    { timestamp: new Date('2021-01-01T00:00:00.000Z'), type: 'Early', data: {} },
  ]);
  const ended = await s.createSession();
  await s.saveMessage('user-commands', { type: 'Rename', data: { to: 'é "q" \n' }, requestId: 'r-2' }, undefined, 'command');
  await s.saveMessage('naïve ✓ \ud83d\ude00 "quoted"', { type: 'Odd', data: { nested: { list: [1, 2, { x: null }] } } }, -1n);
  await s.endSession(ended);
  await s.saveMessage('lone \ud800', { type: 'Lone', data: { s: '\udc00' } });
  await s.createSession();
  for (let i = 0; i < bulk; i += 500) {
    const n = Math.min(500, bulk - i);
    await s.saveMessages(
      `bulk-${(i / 500) % 7}`,
      Array.from({ length: n }, (_, j) => ({ type: j % 3 ? 'BulkEvent' : 'BulkCommand', data: { i: i + j, text: 'x'.repeat(120) } })),
      undefined,
      i % 1_000 === 0 ? 'command' : undefined,
    );
  }
  await s.saveMessage('orders-2', { type: 'OrderPlaced', data: { total: 12 } }, 'no_stream', 'event');
  await s.saveMessages('empty-last', []);
}

test('a memory store imported in chunks reads back identical in every field and exports the same text', async () => {
  const memory = new MemoryMessageStore();
  await fill(memory, 12_000);
  const exported = await text(memory);
  expect(exported.length).toBeGreaterThan(2 * (1 << 20)); // three chunks at least
  const pg = store();
  expect(await pg.importHistory([exported])).toEqual({ lastPosition: 12_008n, messages: 12_008, streams: 16, sessions: 2, skipped: 0 });
  expect(await snapshot(pg)).toEqual(await snapshot(memory));
  // Byte for byte: pages of a different size, the same lines.
  expect(await text(pg)).toBe(exported);
  expect(await text(pg, { after: 5n })).toBe(await text(memory, { after: 5n }));
  expect(await pg.historyDigest()).toEqual(await memory.historyDigest());
  expect(await pg.historyDigest(7n)).toEqual(await memory.historyDigest(7n));
  // And it goes on as the original does.
  await pg.saveMessage('orders-1', { type: 'OrderClosed', data: {} }, 3n);
  await memory.saveMessage('orders-1', { type: 'OrderClosed', data: {} }, 3n);
  const [a, b] = [await pg.getStreamInfo('orders-1'), await memory.getStreamInfo('orders-1')];
  expect({ ...a, lastUpdated: 0 }).toEqual({ ...b, lastUpdated: 0 });
});

test('a schema that holds anything is refused with the engine’s words, and left as it was', async () => {
  const memory = new MemoryMessageStore();
  await fill(memory);
  const exported = await text(memory);
  const pg = store();
  await pg.saveMessage('mine', { type: 'Kept', data: {} });
  const before = await snapshot(pg);
  expect(await rejection(pg.importHistory([exported]))).toEqual({
    code: 'ERR_MESSAGE_STORE_NOT_EMPTY',
    message:
      'the store is not empty (1 message, 1 stream, 0 sessions): a history is written into an empty store, or resumed into one that holds its start',
  });
  expect(await snapshot(pg)).toEqual(before);
  // Only a session (and its stream): still not empty.
  const other = store();
  await other.createSession();
  const held = await snapshot(other);
  expect((await rejection(other.importHistory([exported]))).message).toBe(
    'the store is not empty (0 messages, 1 stream, 1 session): a history is written into an empty store, or resumed into one that holds its start',
  );
  expect(await snapshot(other)).toEqual(held);
});

test('a bad line in the second chunk changes nothing: the first chunk stays whole and counted, and the rest resumes', async () => {
  const memory = new MemoryMessageStore();
  await fill(memory, 3_000);
  const lines = (await text(memory)).split('\n');
  const header = lines[0];
  const cut = 1 + 1_500; // header and the first 1,500 lines after it
  const first = `${lines.slice(1, cut).join('\n')}\n`;
  const rest = `${lines.slice(cut).join('\n')}`;
  const firstMessage = lines.slice(cut).find((l) => l.startsWith('{"position":')) as string;
  const p = JSON.parse(firstMessage).position;
  const gap = rest.replace(`{"position":${p},`, `{"position":${p + 1},`);

  const schema = freshSchema();
  const pg = store(schema);
  await pg.getStats(); // the schema exists
  const raw = new native.PgStore(url, schema, { failoverTimeoutMs: 0 });
  try {
    expect(await raw.importBegin(header, false)).toBe(0);
    const read = await raw.importLines(header, first, 2);
    expect(read.messages).toBe(p - 1);
    const refused = await rejection(raw.importLines(header, gap, cut + 1));
    expect(refused.code).toBe('ERR_MESSAGE_STORE_INVALID_HISTORY');
    expect(refused.message).toMatch(/^line \d+: position \d+ where \d+ was expected: positions must run without a gap$/);
    // What the first chunk wrote, counted as the steps count it.
    const all = await memory.getAllMessages();
    const kept = all.slice(0, p - 1);
    expect(await pg.getAllMessages()).toEqual(kept);
    const stats = await pg.getStats();
    expect(stats).toMatchObject({
      totalMessages: p - 1,
      totalCommands: kept.filter((m: any) => m.messageType === 'command').length,
      totalEvents: kept.filter((m: any) => m.messageType === 'event').length,
      totalStreams: read.streams,
      totalSessions: 2,
      oldestMessage: new Date(Math.min(...kept.map((m: any) => m.timestamp.getTime()))),
      newestMessage: new Date(Math.max(...kept.map((m: any) => m.timestamp.getTime()))),
    });
    for (const name of await pg.getStreams()) {
      const info = await pg.getStreamInfo(name);
      const mine = kept.filter((m: any) => m.streamId === name);
      expect([info.revision, info.firstPosition, info.lastPosition]).toEqual(
        mine.length === 0 ? [-1n, 0n, 0n] : [BigInt(mine.length - 1), mine[0].position, mine.at(-1).position],
      );
    }
    // The rest, whole, from where it stopped: the copy is the original.
    await raw.importLines(header, rest, cut + 1);
    await raw.importEnd(header);
    expect(await snapshot(pg)).toEqual(await snapshot(memory));
    expect(await text(pg)).toBe(lines.join('\n'));
  } finally {
    await raw.close();
  }
});

test('subscribers in other instances read the imported messages, woken as by a step', async () => {
  const memory = new MemoryMessageStore();
  await fill(memory, 1_000);
  const exported = await text(memory);
  const schema = freshSchema();
  const importer = store(schema);
  const reader = store(schema);
  await reader.getStats();
  let hooks: any = null;
  try {
    hooks = require(testBuild);
  } catch {
    // Without the tests' build, the subscription alone is checked.
  }
  const heard = hooks?.testPgListen(url, schema, 2000);
  const sub = reader.subscribe();
  const got = within(take(sub, 1_008), 10_000, 'the subscription');
  await new Promise((r) => setTimeout(r, 300)); // listening, on both
  await importer.importHistory([exported]);
  const messages = await got;
  await sub.close();
  expect(messages.map((m: any) => m.position)).toEqual(Array.from({ length: 1_008 }, (_, i) => BigInt(i + 1)));
  expect(messages).toEqual(await memory.getAllMessages());
  if (heard) {
    const payloads: string[] = JSON.parse(await heard);
    const steps = payloads.map((t) => t.split(' ', 2).map(Number));
    // One notification per chunk, naming its positions, end to end.
    expect(steps[0][0]).toBe(0);
    expect(steps.at(-1)?.[1]).toBe(1_008);
    for (let i = 1; i < steps.length; i++) expect(steps[i][0]).toBe(steps[i - 1][1]);
    expect(payloads[0]).toContain('"orders-1"');
  }
});

test('an export cut short by a reset elsewhere ends with the reason, not a torn page', async () => {
  const schema = freshSchema();
  const pg = store(schema);
  await pg.importHistory(new MemoryMessageStore().exportHistory()); // empty into empty: nothing
  const memory = new MemoryMessageStore();
  await fill(memory, 12_000);
  await pg.importHistory(memory.exportHistory());
  const pages = pg.exportHistory()[Symbol.asyncIterator]();
  expect((await pages.next()).value).toMatch(/^\{"format":"message-store-history"/);
  expect((await pages.next()).done).toBe(false);
  await store(schema).reset();
  expect((await rejection(pages.next())).message).toMatch(
    /^the store was reset during the export: it ended at position \d+ of the 12008 its header promised$/,
  );
});

test('imports 200,000 small messages (the rate is printed, not asserted)', async () => {
  const memory = new MemoryMessageStore();
  const n = 200_000;
  for (let i = 0; i < n; i += 1_000) {
    await memory.saveMessages(
      `s-${(i / 1_000) % 100}`,
      Array.from({ length: 1_000 }, (_, j) => ({ type: 'Small', data: { i: i + j } })),
    );
  }
  const pages: string[] = [];
  for await (const page of memory.exportHistory()) pages.push(page);
  const pg = store();
  const start = process.hrtime.bigint();
  await pg.importHistory(pages);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`PostgreSQL history import: ${n} messages in ${seconds.toFixed(2)} s = ${Math.round(n / seconds)} msg/s`);
  expect((await pg.getStats()).totalMessages).toBe(n);
  const exportStart = process.hrtime.bigint();
  let bytes = 0;
  for await (const page of pg.exportHistory()) bytes += page.length;
  const exportSeconds = Number(process.hrtime.bigint() - exportStart) / 1e9;
  console.log(`PostgreSQL history export: ${n} messages in ${exportSeconds.toFixed(2)} s = ${Math.round(n / exportSeconds)} msg/s`);
  expect(bytes).toBe(pages.reduce((a, p) => a + p.length, 0));
}, 180_000);
