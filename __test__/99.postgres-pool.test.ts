// PostgresMessageStore's connections and sequencing steps (docs/design.md#postgres-positions):
// a save resolves once its append committed, without waiting for positions; a read
// after it waits for them; reads and sessions do not queue behind one another with a
// pool; what a writer that died between its append and the step left is positioned
// by a subscribed instance's poll, the next instance to connect, or any read.
import * as path from 'node:path';
import { PostgresMessageStore } from '@auto-engineer/message-store';
import { Client } from 'pg';
import { take } from './support/pull';

const url = process.env.DATABASE_URL as string;
const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
let hooks: any;
let schemas = 0;
const freshSchema = () => `pool_${process.pid}_${++schemas}`;
const open: PostgresMessageStore[] = [];
function store(schema: string, options: { poolSize?: number } = {}) {
  const s = new PostgresMessageStore({ connectionString: url, schema, ...options });
  open.push(s);
  return s;
}
const clients: Client[] = [];
async function client() {
  const c = new Client({ connectionString: url });
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(() => {
  try {
    hooks = require(testBuild);
  } catch (e) {
    throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first (${(e as Error).message})`);
  }
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end()));
  await Promise.all(open.map((s) => s.dispose()));
});

/** Whether `p` has settled after the event loop had `ms` to run. */
async function settledWithin(p: Promise<unknown>, ms: number) {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await new Promise((r) => setTimeout(r, ms));
  return settled;
}

test('a save resolves once its append committed, while positioning waits; a read after it waits for its position', async () => {
  const schema = freshSchema();
  const s = store(schema);
  await s.saveMessage('a', { type: 'First', data: {} });
  // Another client holds the messages table: no sequencing step can write into it.
  const holder = await client();
  await holder.query('BEGIN');
  await holder.query(`LOCK TABLE "${schema}".messages IN EXCLUSIVE MODE`);
  // Both resolve: committed and durable, their revisions given (the second's expectation checked).
  await s.saveMessage('a', { type: 'Second', data: {} }, 0n);
  await s.saveMessage('b', { type: 'Third', data: {} }, 'no_stream');
  const read = s.getAllMessages();
  expect(await settledWithin(read, 300)).toBe(false);
  await holder.query('COMMIT');
  expect((await read).map((m) => [m.streamId, m.message.type, m.revision, m.position])).toEqual([
    ['a', 'First', 0n, 1n],
    ['a', 'Second', 1n, 2n],
    ['b', 'Third', 0n, 3n],
  ]);
  expect((await s.getStats()).totalMessages).toBe(3);
  const info = await s.getStreamInfo('a');
  expect([info?.firstPosition, info?.lastPosition, info?.revision]).toEqual([1n, 2n, 1n]);
});

test('with a pool, a read does not queue behind another that waits; with a pool of one it does', async () => {
  for (const [poolSize, alongside] of [
    [2, true],
    [1, false],
  ] as const) {
    const schema = freshSchema();
    const s = store(schema, { poolSize });
    await s.saveMessage('a', { type: 'A', data: {} });
    await s.createSession();
    const holder = await client();
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE "${schema}".sessions IN ACCESS EXCLUSIVE MODE`);
    const sessions = s.getSessions();
    // Sent and waiting on the server before the next read is called.
    const watcher = await client();
    for (;;) {
      const { rows } = await watcher.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
        [`%"${schema}".sessions%`],
      );
      if (rows[0].n === 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const streams = s.getStreams();
    expect(await settledWithin(streams, 300)).toBe(alongside);
    expect(await settledWithin(sessions, 0)).toBe(false);
    await holder.query('COMMIT');
    const [session] = await sessions;
    expect((await sessions).length).toBe(1);
    expect(await streams).toEqual(['a', `session-${session.sessionId}`]);
  }
});

test('saves a writer left pending when it died reach a subscriber, the next instance to connect, and any read', async () => {
  const schema = freshSchema();
  const first = store(schema);
  await first.saveMessage('x', { type: 'Before', data: {} });
  const sub = first.subscribe();
  expect((await take(sub, 1)).map((m) => m.position)).toEqual([1n]);
  // What a process killed between its append and its step leaves: a committed append,
  // no step (the append function called directly, as the store's would be).
  const append = (batch: string, type: string) =>
    hooks.testPgExec(
      url,
      `SELECT "${schema}".append('${batch}', ARRAY['"x"'], ARRAY[NULL::bigint], ARRAY[1], ARRAY[1000::bigint], ARRAY['"no-session"'], ARRAY[1::smallint], ARRAY['"${type}"'], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY['{"type":"${type}","data":{},"timestamp":"1970-01-01T00:00:01.000Z"}'])`,
    );
  await append('dead-1', 'Orphan');
  // A subscribed instance gets it (its poll positions what stands still, if nothing else does).
  const got = await take(sub, 1);
  expect(got.map((m) => [m.position, m.revision, m.message.type])).toEqual([[2n, 1n, 'Orphan']]);
  await sub.close();

  await append('dead-2', 'Orphan2');
  // An instance connecting now positions it before its first call answers.
  const later = store(schema);
  expect((await later.getAllMessages()).map((m) => [m.position, m.revision, m.message.type])).toEqual([
    [1n, 0n, 'Before'],
    [2n, 1n, 'Orphan'],
    [3n, 2n, 'Orphan2'],
  ]);
  expect((await later.getStats()).totalMessages).toBe(3);
  // And a read of an instance connected long before sees one too: a read runs a step first.
  await append('dead-3', 'Orphan3');
  expect((await first.getAllMessages({ fromPosition: 4n })).map((m) => [m.position, m.revision, m.message.type])).toEqual([
    [4n, 3n, 'Orphan3'],
  ]);
});

test('poolSize and listenConnectionString are checked', () => {
  for (const bad of [0, 1.5, '4', 65]) {
    expect(() => new PostgresMessageStore({ connectionString: url, poolSize: bad as number })).toThrow(
      new TypeError(
        `options.poolSize must be a whole number from 1 to 64, got ${typeof bad === 'string' ? `the string "${bad}"` : `the number ${bad}`}`,
      ),
    );
  }
  expect(() => new PostgresMessageStore({ connectionString: url, listenConnectionString: '' })).toThrow(
    new TypeError('options.listenConnectionString must be a non-empty string, got the string ""'),
  );
  expect(() => new PostgresMessageStore({ connectionString: url, listenConnectionString: 'postgres://h:99999/db' })).toThrow(TypeError);
});

test('a subscription listens where listenConnectionString says (here the server itself) and wakes at once', async () => {
  const schema = freshSchema();
  const reader = new PostgresMessageStore({ connectionString: url, schema, listenConnectionString: url });
  open.push(reader);
  const writer = store(schema);
  await writer.saveMessage('s', { type: 'A', data: {} });
  const sub = reader.subscribe();
  expect((await take(sub, 1)).map((m) => m.position)).toEqual([1n]);
  await writer.saveMessages('s', [
    { type: 'B', data: {} },
    { type: 'C', data: {} },
  ]);
  expect((await take(sub, 2)).map((m) => [m.position, m.message.type])).toEqual([
    [2n, 'B'],
    [3n, 'C'],
  ]);
  await sub.close();
});

test('the steps vacuum the pending table every 10,000 rows they move, so its dead rows do not slow every step', async () => {
  const schema = freshSchema();
  const s = store(schema);
  for (let b = 0; b < 12; b++) {
    await s.saveMessages(
      `s-${b}`,
      Array.from({ length: 1000 }, (_, i) => ({ type: 'Bulk', data: { i } })),
    );
  }
  expect((await s.getStats()).totalMessages).toBe(12_000);
  const c = await client();
  const { rows } = await c.query(
    `SELECT vacuum_count + autovacuum_count AS vacuums FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'pending'`,
    [schema],
  );
  expect(Number(rows[0].vacuums)).toBeGreaterThanOrEqual(1);
});

test('a role that may only read reads what is positioned: the steps it cannot run do not fail its calls', async () => {
  const schema = freshSchema();
  const owner = store(schema);
  await owner.saveMessage('x', { type: 'Positioned', data: {} });
  // Closed, so that its background step cannot position what follows.
  await owner.dispose();
  // Left pending, as by a writer killed before its step.
  await hooks.testPgExec(
    url,
    `SELECT "${schema}".append('dead-ro', ARRAY['"x"'], ARRAY[NULL::bigint], ARRAY[1], ARRAY[1000::bigint], ARRAY['"no-session"'], ARRAY[1::smallint], ARRAY['"Pending"'], ARRAY[NULL::text], ARRAY[NULL::text], ARRAY['{"type":"Pending","data":{}}'])`,
  );
  const role = `ro_${process.pid}_${schemas}`;
  await hooks.testPgExec(
    url,
    `CREATE ROLE ${role} LOGIN PASSWORD 'ro'; GRANT USAGE ON SCHEMA "${schema}" TO ${role}; GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO ${role};`,
  );
  const u = new URL(url);
  u.username = role;
  u.password = 'ro';
  const reader = new PostgresMessageStore({ connectionString: u.toString(), schema });
  open.push(reader);
  expect((await reader.getAllMessages()).map((m) => [m.position, m.message.type])).toEqual([[1n, 'Positioned']]);
  expect((await reader.getStats()).totalMessages).toBe(1);
  // Its saves are refused by the server, with the server's reason.
  await expect(reader.saveMessage('x', { type: 'No', data: {} })).rejects.toMatchObject({
    code: 'ERR_MESSAGE_STORE_WRITE_FAILED',
    message: expect.stringContaining('permission denied'),
  });
  // An owner's read positions the pending one, and the reader then sees it.
  expect((await store(schema).getAllMessages()).map((m) => m.position)).toEqual([1n, 2n]);
  expect((await reader.getAllMessages()).map((m) => [m.position, m.message.type])).toEqual([
    [1n, 'Positioned'],
    [2n, 'Pending'],
  ]);
  await reader.dispose();
  await hooks.testPgExec(url, `DROP OWNED BY ${role}; DROP ROLE ${role}`);
});
