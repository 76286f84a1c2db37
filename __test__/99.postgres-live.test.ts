// What only PostgresMessageStore's subscriptions must get right: messages saved by other
// processes, woken by one NOTIFY per sequencing step naming its streams, and still
// delivered when the listening connection is killed (the poll by position); a reset by
// another instance; schemas made by earlier versions.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PostgresMessageStore, WrongExpectedRevisionError } from '@auto-engineer/message-store';
import { take } from './support/pull';

const run = promisify(execFile);
const url = process.env.DATABASE_URL as string;
const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
let hooks: any;
let schemas = 0;
const freshSchema = () => `live_${process.pid}_${++schemas}`;
const open: PostgresMessageStore[] = [];
function store(schema: string) {
  const s = new PostgresMessageStore({ connectionString: url, schema });
  open.push(s);
  return s;
}

beforeAll(() => {
  try {
    hooks = require(testBuild);
  } catch (e) {
    throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first (${(e as Error).message})`);
  }
});
afterAll(async () => {
  await Promise.all(open.map((s) => s.dispose()));
});

async function exec(sql: string) {
  await hooks.testPgExec(url, sql);
}

test('a subscription receives what two other processes save: every message once, positions gapless', async () => {
  const schema = freshSchema();
  const s = store(schema);
  await s.saveMessage('here', { type: 'First', data: {} });
  const sub = s.subscribe({ afterPosition: 1n });
  const received = take(sub, 2 * 150);
  const writers = [1, 2].map((w) =>
    run(process.execPath, [path.join(__dirname, 'support/pg-live-writer.cjs'), url, schema, String(w), '150']),
  );
  const outputs = await Promise.all(writers);
  expect(outputs.map((o) => o.stdout)).toEqual(['150', '150']);
  const got = await received;
  await sub.close();
  expect(got.map((m) => m.position)).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(i + 2)));
  for (const w of [1, 2]) {
    const mine = got.filter((m) => m.streamId === `w-${w}`);
    expect(mine.map((m) => m.message.data.i)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(mine.map((m) => m.revision)).toEqual(Array.from({ length: 150 }, (_, i) => BigInt(i)));
  }
});

test('one notification per sequencing step, naming its positions and streams; none for a refusal or an empty save', async () => {
  const schema = freshSchema();
  const s = store(schema);
  await s.getStats(); // the schema exists before anyone listens
  const heard = hooks.testPgListen(url, schema, 2500);
  await new Promise((r) => setTimeout(r, 700));
  await s.saveMessages(
    'batch',
    Array.from({ length: 100 }, (_, i) => ({ type: 'B', data: { i } })),
  );
  await Promise.all(Array.from({ length: 50 }, (_, i) => s.saveMessage('group', { type: 'G', data: { i } }))); // one group
  for (let i = 0; i < 3; i++) await s.saveMessage('alone', { type: 'A', data: { i } });
  await expect(s.saveMessage('alone', { type: 'A', data: {} }, 0n)).rejects.toThrow(WrongExpectedRevisionError);
  await s.saveMessages('empty', []);
  const all = await s.getAllMessages();
  expect(all.length).toBe(153);
  await s.reset();
  const payloads: string[] = JSON.parse(await heard);
  expect(payloads.at(-1)).toMatch(/^reset [0-9a-f-]{36}$/);
  const steps = payloads.slice(0, -1).map((p) => {
    const [from, to, names] = p.split(' ');
    return { from: Number(from), to: Number(to), streams: JSON.parse(names) as string[] };
  });
  // Five appends added messages: at most one step each, fewer when a step served several.
  expect(steps.length).toBeGreaterThanOrEqual(1);
  expect(steps.length).toBeLessThanOrEqual(5);
  // The steps follow each other without a gap, from 0 to 153, each naming exactly the
  // streams of its positions.
  expect(steps[0].from).toBe(0);
  steps.forEach((step, i) => {
    if (i > 0) expect(step.from).toBe(steps[i - 1].to);
    const inStep = all.filter((m) => m.position > BigInt(step.from) && m.position <= BigInt(step.to));
    expect([...step.streams].sort()).toEqual([...new Set(inStep.map((m) => m.streamId))].sort());
  });
  expect(steps.at(-1)?.to).toBe(153);
});

test('killing the listening connection delays a message, never loses it (poll by position, then a new connection)', async () => {
  const schema = freshSchema();
  const reader = store(schema);
  const writer = store(schema);
  await writer.saveMessage('s', { type: 'Before', data: {} });
  const sub = reader.subscribe();
  expect((await take(sub, 1)).map((m) => m.message.type)).toEqual(['Before']);
  // The reader's listening connection: its last statement was LISTEN or the head's read.
  // (A division by zero unless it killed at least one.)
  await exec(
    `WITH targets AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND (query LIKE '%"${schema}".store%' OR query = 'LISTEN "${schema}"')) SELECT 1 / (SELECT count(*) FROM targets WHERE pg_terminate_backend(pid))::int`,
  );

  for (let i = 0; i < 5; i++) await writer.saveMessage('s', { type: 'After', data: { i } });
  const got = await take(sub, 5);
  expect(got.map((m) => [m.position, m.message.data.i])).toEqual([
    [2n, 0],
    [3n, 1],
    [4n, 2],
    [5n, 3],
    [6n, 4],
  ]);

  // And it keeps following.
  await writer.saveMessage('s', { type: 'Later', data: {} });
  expect((await take(sub, 1)).map((m) => m.position)).toEqual([7n]);
  await sub.close();
});

test('a reset by another instance ends the subscriptions of this one with ERR_MESSAGE_STORE_RESET', async () => {
  const schema = freshSchema();
  const reader = store(schema);
  const other = store(schema);
  await other.saveMessage('s', { type: 'A', data: {} });
  const sub = reader.subscribe();
  await take(sub, 1);
  const waiting = sub.next();
  await other.reset();
  await expect(waiting).rejects.toMatchObject({ code: 'ERR_MESSAGE_STORE_RESET' });
  // This instance's own new subscription after that follows the new positions.
  await other.saveMessage('t', { type: 'B', data: {} });
  const fresh = reader.subscribe();
  expect((await take(fresh, 1)).map((m) => [m.streamId, m.position])).toEqual([['t', 1n]]);
  await fresh.close();
});

test('a schema made by an earlier version (1: no version table; 2: marked 2) gets the new functions and tables; its rows stay', async () => {
  const schema = freshSchema();
  const first = store(schema);
  await first.saveMessage('kept', { type: 'Old', data: {} });
  await first.dispose();
  // What version 1 left: no version table, an append that never notifies.
  await exec(`DROP TABLE "${schema}".version`);
  await exec(
    `CREATE OR REPLACE FUNCTION "${schema}".append(batch text, s_stream text[], s_expected bigint[], s_count int[], s_time bigint[], s_session text[], m_kind smallint[], m_type text[], m_correlation text[], m_request text[], m_body text[], m_data text[]) RETURNS text LANGUAGE sql AS $$ SELECT 'version 1'::text $$`,
  );
  const later = store(schema);
  const sub = later.subscribe();
  expect((await take(sub, 1)).map((m) => [m.streamId, m.position])).toEqual([['kept', 1n]]);
  await store(schema).saveMessage('kept', { type: 'New', data: {} }, 'stream_exists');
  expect((await take(sub, 1)).map((m) => [m.message.type, m.revision])).toEqual([['New', 1n]]);
  await sub.close();
  // Marked: fails with a division by zero unless exactly one row says version 4.
  await exec(`SELECT 1 / (SELECT count(*) FROM "${schema}".version WHERE version = 4)::int`);

  // What version 2 left: marked 2, its functions (here a stub that would refuse every append).
  await later.dispose();
  await exec(`UPDATE "${schema}".version SET version = 2`);
  await exec(
    `CREATE OR REPLACE FUNCTION "${schema}".append(batch text, s_stream text[], s_expected bigint[], s_count int[], s_time bigint[], s_session text[], m_kind smallint[], m_type text[], m_correlation text[], m_request text[], m_body text[], m_data text[]) RETURNS text LANGUAGE sql AS $$ SELECT 'version 2'::text $$`,
  );
  const third = store(schema);
  await third.saveMessage('kept', { type: 'Newer', data: {} }, 1n);
  expect((await third.getMessages('kept')).map((m) => m.message.type)).toEqual(['Old', 'New', 'Newer']);
  await exec(`SELECT 1 / (SELECT count(*) FROM "${schema}".version WHERE version = 4)::int`);
});

test('a schema made by version 3 (positions given in the append, four more indexes) is brought to version 4: everything reads back the same and new saves continue it', async () => {
  const schema = freshSchema();
  const first = store(schema);
  await first.saveMessages('a', [
    { type: 'Do', kind: 'Command', data: { x: 1 }, correlationId: 'c-1' },
    { type: 'Done', kind: 'Event', data: { x: 2 }, correlationId: 'c-1' },
  ]);
  await first.saveMessage('b', { type: 'Other', data: { y: 'z' }, requestId: 'r-1' });
  await first.saveMessages('empty', []);
  const before = {
    all: await first.getAllMessages(),
    a: await first.getStreamInfo('a'),
    b: await first.getStreamInfo('b'),
    empty: await first.getStreamInfo('empty'),
    streams: await first.getStreams(),
    stats: await first.getStats(),
  };
  await first.dispose();
  // Version 3's layout: positions on `streams`, a `data` column, no pending table or
  // sequence, an index by kind, the append function of twelve arguments.
  const q = `"${schema}"`;
  await exec(
    `ALTER TABLE ${q}.streams ADD COLUMN first_position bigint NOT NULL DEFAULT 0, ADD COLUMN last_position bigint NOT NULL DEFAULT 0;
     UPDATE ${q}.streams s SET first_position = p.first_position, last_position = p.last_position FROM ${q}.stream_positions p WHERE p.name = s.name;
     DROP TABLE ${q}.stream_positions, ${q}.pending;
     DROP FUNCTION ${q}.sequence();
     ALTER TABLE ${q}.streams ALTER COLUMN ordinal DROP DEFAULT;
     DROP SEQUENCE ${q}.stream_ordinals;
     ALTER TABLE ${q}.messages ADD COLUMN data jsonb;
     CREATE INDEX messages_kind ON ${q}.messages (kind, position);
     CREATE FUNCTION ${q}.append(batch text, s_stream text[], s_expected bigint[], s_count int[], s_time bigint[], s_session text[], m_kind smallint[], m_type text[], m_correlation text[], m_request text[], m_body text[], m_data text[]) RETURNS text LANGUAGE sql AS $$ SELECT 'version 3'::text $$;
     UPDATE ${q}.version SET version = 3;`,
  );
  const later = store(schema);
  expect(await later.getAllMessages()).toEqual(before.all);
  expect(await later.getStreamInfo('a')).toEqual(before.a);
  expect(await later.getStreamInfo('b')).toEqual(before.b);
  expect(await later.getStreamInfo('empty')).toEqual(before.empty);
  expect(await later.getStreams()).toEqual(before.streams);
  expect(await later.getStats()).toEqual(before.stats);
  expect(await later.getAllMessages({ correlationId: 'c-1' })).toEqual(before.all.slice(0, 2));

  await later.saveMessage('c', { type: 'New', data: {} });
  await later.saveMessage('a', { type: 'More', data: {} }, 1n);
  expect((await later.getAllMessages({ fromPosition: 4n })).map((m) => [m.streamId, m.position, m.revision])).toEqual([
    ['c', 4n, 0n],
    ['a', 5n, 2n],
  ]);
  expect(await later.getStreams()).toEqual([...before.streams, 'c']);
  const info = await later.getStreamInfo('a');
  expect([info?.firstPosition, info?.lastPosition, info?.messageCount]).toEqual([1n, 5n, 3]);
  const stats = await later.getStats();
  expect([stats.totalMessages, stats.totalStreams, stats.totalCommands, stats.totalEvents]).toEqual([5, 4, 1, 4]);
  // The index by kind is gone (a division by zero if it is still there) and the version marked 4.
  await exec(`SELECT 1 / (1 - (SELECT count(*) FROM pg_indexes WHERE schemaname = '${schema}' AND indexname = 'messages_kind'))::int`);
  await exec(`SELECT 1 / (SELECT count(*) FROM ${q}.version WHERE version = 4)::int`);
});

test('steps that name other streams do not wake a subscription parked on its stream; one naming it does', async () => {
  const schema = freshSchema();
  const reader = store(schema);
  const writer = store(schema);
  // Counts the pages subscriptions read (every wake of a parked one reads one).
  const native = require('../lib/native.js').load();
  const follow = native.PgStore.prototype.follow;
  let pages = 0;
  native.PgStore.prototype.follow = function (...args: unknown[]) {
    pages += 1;
    return follow.apply(this, args);
  };
  try {
    await writer.saveMessage('mine', { type: 'First', data: {} });
    const sub = reader.subscribeToStream('mine');
    expect((await take(sub, 1)).map((m) => m.position)).toEqual([1n]);
    const next = sub.next();
    await new Promise((r) => setTimeout(r, 300));
    const parked = pages;
    // Thirty steps (a pause after each save lets each have its own), none naming 'mine'.
    for (let i = 0; i < 30; i++) {
      await writer.saveMessage(`other-${i % 3}`, { type: 'Other', data: { i } });
      await new Promise((r) => setTimeout(r, 30));
    }
    await new Promise((r) => setTimeout(r, 600));
    const woken = pages - parked;
    await writer.saveMessage('mine', { type: 'Second', data: {} });
    const got = await next;
    expect([got.value.position, got.value.revision, got.value.message.type]).toEqual([32n, 1n, 'Second']);
    // Every one of them would wake it if streams were not named; a notification that
    // races the head's poll may, at most once or twice.
    expect(woken).toBeLessThanOrEqual(2);
    expect(pages - parked).toBeGreaterThan(woken);
    await sub.close();
  } finally {
    native.PgStore.prototype.follow = follow;
  }
});

test('a step whose streams would not fit in a notification says `many`, and subscriptions still get every message', async () => {
  const schema = freshSchema();
  const s = store(schema);
  await s.getStats();
  const sub = s.subscribeToStream(`${'x'.repeat(100)}-7`);
  const next = sub.next();
  const heard = hooks.testPgListen(url, schema, 1500);
  await new Promise((r) => setTimeout(r, 500));
  // 100 streams of 104-character names, saved together: one append, one step,
  // more than 8,000 bytes of names.
  await Promise.all(Array.from({ length: 100 }, (_, i) => s.saveMessage(`${'x'.repeat(100)}-${i}`, { type: 'Long', data: { i } })));
  expect((await s.getAllMessages()).length).toBe(100);
  const payloads: string[] = JSON.parse(await heard);
  expect(payloads).toEqual(['0 100 many']);
  const got = await next;
  expect([got.value.position, got.value.message.data.i]).toEqual([8n, 7]);
  await sub.close();
});
