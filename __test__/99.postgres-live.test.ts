// What only PostgresMessageStore's subscriptions must get right: messages saved by other
// processes, woken by one NOTIFY per committed transaction, and still delivered when
// the listening connection is killed (the poll by position); a reset by another
// instance; a schema made before subscriptions existed.
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

test('one notification per committed transaction that added messages, none per message, none for a refusal', async () => {
  const schema = freshSchema();
  const s = store(schema);
  await s.getStats(); // the schema exists before anyone listens
  const heard = hooks.testPgListen(url, schema, 2500);
  await new Promise((r) => setTimeout(r, 700));
  await s.saveMessages(
    'batch',
    Array.from({ length: 100 }, (_, i) => ({ type: 'B', data: { i } })),
  ); // 1
  await Promise.all(Array.from({ length: 50 }, (_, i) => s.saveMessage('group', { type: 'G', data: { i } }))); // 1: one group
  for (let i = 0; i < 3; i++) await s.saveMessage('alone', { type: 'A', data: { i } }); // 3
  await expect(s.saveMessage('alone', { type: 'A', data: {} }, 0n)).rejects.toThrow(WrongExpectedRevisionError); // 0
  await s.saveMessages('empty', []); // 0: no message
  await s.reset(); // 1: the reset's announcement
  expect(await heard).toBe(6);
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

test('a schema made by an earlier version (1: no version table; 2: marked 2) gets the new functions; its tables and rows stay', async () => {
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
  // Marked: fails with a division by zero unless exactly one row says version 3.
  await exec(`SELECT 1 / (SELECT count(*) FROM "${schema}".version WHERE version = 3)::int`);

  // What version 2 left: marked 2, its functions (here a stub that would refuse every append).
  await later.dispose();
  await exec(`UPDATE "${schema}".version SET version = 2`);
  await exec(
    `CREATE OR REPLACE FUNCTION "${schema}".append(batch text, s_stream text[], s_expected bigint[], s_count int[], s_time bigint[], s_session text[], m_kind smallint[], m_type text[], m_correlation text[], m_request text[], m_body text[], m_data text[]) RETURNS text LANGUAGE sql AS $$ SELECT 'version 2'::text $$`,
  );
  const third = store(schema);
  await third.saveMessage('kept', { type: 'Newer', data: {} }, 1n);
  expect((await third.getMessages('kept')).map((m) => m.message.type)).toEqual(['Old', 'New', 'Newer']);
  await exec(`SELECT 1 / (SELECT count(*) FROM "${schema}".version WHERE version = 3)::int`);
});
