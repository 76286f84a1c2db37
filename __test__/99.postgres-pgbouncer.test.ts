// PostgresMessageStore through PgBouncer in transaction mode (jest's globalSetup starts it,
// pgbouncer.mjs): that the pooler really hands one server connection to several clients,
// and what the behaviour suites (which also run through it) do not single out: following
// by polling when LISTEN cannot pass, and positions decided right when two stores' saves
// interleave on shared server connections.
import { PostgresMessageStore } from '@auto-engineer/message-store';
import { Client } from 'pg';
import { take, within } from './support/pull';

const bouncerUrl = process.env.MESSAGE_STORE_PGBOUNCER_URL as string;
let schemas = 0;
const freshSchema = () => `bouncer_${process.pid}_${++schemas}`;
const open: PostgresMessageStore[] = [];
function store(schema: string) {
  const s = new PostgresMessageStore({ connectionString: bouncerUrl, schema });
  open.push(s);
  return s;
}
const clients: Client[] = [];
async function client(url = bouncerUrl) {
  const c = new Client({ connectionString: url });
  clients.push(c);
  await c.connect();
  return c;
}
afterAll(async () => {
  await Promise.all([...open.map((s) => s.dispose()), ...clients.map((c) => c.end())]);
});

test('PgBouncer is there, in transaction mode, pooling for the test server', async () => {
  expect(bouncerUrl).toMatch(/^postgres(ql)?:\/\//);
  const admin = new URL(bouncerUrl);
  admin.pathname = '/pgbouncer';
  const console_ = await client(admin.href);
  const config = (await console_.query('SHOW CONFIG')).rows;
  const setting = (key: string) => config.find((r) => r.key === key)?.value;
  expect([setting('pool_mode'), setting('default_pool_size')]).toEqual(['transaction', '20']);
  // The config names the server for any database (`*`): PgBouncer lists one once a
  // client has asked for it.
  await (await client()).query('SELECT 1');
  const server = new URL(process.env.DATABASE_URL as string);
  const db = (await console_.query('SHOW DATABASES')).rows.find((r) => r.name === server.pathname.slice(1));
  expect([db?.host, String(db?.port), db?.pool_size]).toEqual([server.hostname, server.port, 20]);
});

test('two clients connected at once take turns on one server connection: a named prepared statement leaks to the other', async () => {
  // In session mode a server connection belongs to one client until it disconnects, so
  // the other could never run on it. PgBouncer reuses the connection freed last, so a few
  // tries suffice even while other test files use the pool.
  const [a, b] = [await client(), await client()];
  for (let i = 0; i < 1000; i++) {
    const name = `leak_${process.pid}_${i}`;
    await a.query('BEGIN');
    const pidA = (await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await a.query(`PREPARE ${name} AS SELECT 41 + 1 AS answer`);
    await a.query('COMMIT');
    await b.query('BEGIN');
    const pidB = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    if (pidA === pidB) {
      expect((await b.query(`EXECUTE ${name}`)).rows).toEqual([{ answer: 42 }]);
      await b.query(`DEALLOCATE ${name}`);
      await b.query('COMMIT');
      return;
    }
    await b.query('COMMIT');
  }
  throw new Error('in 1,000 tries, the second client never ran on the server connection the first had used');
});

test('without listenConnectionString a subscription follows another instance by polling: positions 1..5 with their data', async () => {
  const schema = freshSchema();
  const reader = store(schema);
  const writer = store(schema);
  await reader.getStats(); // the schema exists
  const sub = reader.subscribe();
  const received = take(sub, 5);
  await within(sub.caughtUp, 10000, 'catching up on an empty store');
  for (let i = 0; i < 5; i++) await writer.saveMessage(`s-${i % 2}`, { type: 'Saved', data: { i } });
  const got = await within(received, 15000, 'following the writer');
  await sub.close();
  expect(got.map((m) => [m.position, m.streamId, m.revision, m.message.type, m.message.data])).toEqual([
    [1n, 's-0', 0n, 'Saved', { i: 0 }],
    [2n, 's-1', 0n, 'Saved', { i: 1 }],
    [3n, 's-0', 1n, 'Saved', { i: 2 }],
    [4n, 's-1', 1n, 'Saved', { i: 3 }],
    [5n, 's-0', 2n, 'Saved', { i: 4 }],
  ]);
});

test('two stores saving at once through the pooler: positions 1..400 gapless, revisions gapless per stream, every save once', async () => {
  const schema = freshSchema();
  const stores = [store(schema), store(schema)];
  await stores[0].getStats(); // one creates the schema, not both at once
  const STREAMS = 7;
  await Promise.all(
    stores.map(async (s, w) => {
      for (let batch = 0; batch < 200; batch += 20) {
        await Promise.all(
          Array.from({ length: 20 }, (_, k) => {
            const i = batch + k;
            return s.saveMessage(`s-${i % STREAMS}`, { type: 'Saved', data: { w, i } });
          }),
        );
      }
    }),
  );
  const all = await stores[1].getAllMessages();
  expect(all.map((m) => m.position)).toEqual(Array.from({ length: 400 }, (_, i) => BigInt(i + 1)));
  for (let k = 0; k < STREAMS; k++) {
    const stream = all.filter((m) => m.streamId === `s-${k}`);
    expect(stream.map((m) => m.revision)).toEqual(stream.map((_, r) => BigInt(r)));
    expect(stream.every((m) => m.message.data.i % STREAMS === k)).toBe(true);
  }
  const saves = all.map((m) => `${m.message.data.w}:${m.message.data.i}`).sort();
  const expected = [0, 1].flatMap((w) => Array.from({ length: 200 }, (_, i) => `${w}:${i}`)).sort();
  expect(saves).toEqual(expected);
  // The stream's summary agrees with its rows.
  expect((await stores[0].getStreamInfo('s-0'))?.messageCount).toBe(all.filter((m) => m.streamId === 's-0').length);
});
