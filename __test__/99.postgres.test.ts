// PostgresMessageStore against a real server (the throwaway one jest's globalSetup
// starts, or DATABASE_URL's): the behaviour the other stores have, and what only a
// shared store has to get right: positions and revisions across connections and
// processes, expected revisions decided in the transaction, a broken connection.
import { execFileSync, spawn } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { MemoryMessageStore, PostgresMessageStore, StreamNotFoundError, WrongExpectedRevisionError } from '@auto-engineer/message-store';

const url = process.env.DATABASE_URL as string;
let schemas = 0;
/** A schema no other test uses. */
const freshSchema = () => `t_${process.pid}_${++schemas}`;
const open: PostgresMessageStore[] = [];
function store(schema = freshSchema()) {
  const s = new PostgresMessageStore({ connectionString: url, schema });
  open.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(open.map((s) => s.dispose()));
});

test('the server is there (a missing one is a failure, not a skip)', () => {
  expect(url).toMatch(/^postgres(ql)?:\/\//);
});

test('saves and reads back: revisions, positions, types, sessions, the stamped timestamp', async () => {
  const s = store();
  await s.saveMessage('user-commands', { type: 'CreateUser', data: { name: 'Alice' }, requestId: 'req-123' });
  await s.saveMessages('orders-1', [
    { type: 'Placed', data: { id: 1 } },
    { type: 'Paid', data: { id: 1, amount: 5 }, timestamp: new Date(5) },
  ]);
  const [m] = await s.getMessages('user-commands');
  expect([m.streamId, m.revision, m.position, m.messageType, m.sessionId]).toEqual(['user-commands', 0n, 1n, 'command', 'no-session']);
  expect(m.message).toEqual({ type: 'CreateUser', data: { name: 'Alice' }, requestId: 'req-123', timestamp: m.timestamp });
  expect(Object.isFrozen(m)).toBe(true);
  const orders = await s.getMessages('orders-1');
  expect(orders.map((o) => [o.message.type, o.revision, o.position, o.messageType])).toEqual([
    ['Placed', 0n, 2n, 'event'],
    ['Paid', 1n, 3n, 'event'],
  ]);
  expect(orders[1].message.timestamp.getTime()).toBe(5);
  expect((await s.getMessages('orders-1', 1n)).map((o) => o.position)).toEqual([3n]);
  expect((await s.getMessages('orders-1', undefined, 1)).map((o) => o.position)).toEqual([3n]);
  expect(await s.getMessages('nowhere')).toEqual([]);
  expect(await s.getStreams()).toEqual(['user-commands', 'orders-1']);
  const info = await s.getStreamInfo('orders-1');
  expect({ ...info, createdAt: undefined, lastUpdated: undefined }).toEqual({
    streamId: 'orders-1',
    revision: 1n,
    messageCount: 2,
    firstPosition: 2n,
    lastPosition: 3n,
    createdAt: undefined,
    lastUpdated: undefined,
  });
  expect(await s.getStreamInfo('nowhere')).toBeNull();
  const stats = await s.getStats();
  expect([stats.totalMessages, stats.totalCommands, stats.totalEvents, stats.totalStreams, stats.totalSessions]).toEqual([3, 1, 2, 2, 0]);
  expect(await s.getMessagesJson('orders-1', undefined, 1)).toBe(JSON.stringify([{ ...orders[1], revision: '1', position: '3' }]));
});

test("expected revisions: upstream's texts and classes, decided by the database", async () => {
  const s = store();
  await s.saveMessage('orders-123', { type: 'PlaceOrder', data: {} });
  await expect(s.saveMessage('orders-123', { type: 'ShipOrder', data: {} }, BigInt(-1))).rejects.toThrow(
    new WrongExpectedRevisionError('orders-123', -1n, 0n).message,
  );
  await expect(s.saveMessage('orders-123', { type: 'ShipOrder', data: {} }, -1n)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
  await expect(s.saveMessage('missing', { type: 'A', data: {} }, 3n)).rejects.toThrow(
    'Stream missing does not exist, but expected revision 3 was provided',
  );
  await expect(s.saveMessage('missing', { type: 'A', data: {} }, 3n)).rejects.toBeInstanceOf(StreamNotFoundError);
  await s.saveMessage('orders-123', { type: 'ShipOrder', data: {} }, 0n);
  expect(await s.getStreams()).toEqual(['orders-123']);
  expect((await s.getStats()).totalMessages).toBe(2);
});

test('50 saves issued at once with expectedRevision -1 to a new stream: exactly one succeeds; without one, none is refused', async () => {
  const s = store();
  const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => s.saveMessage('race', { type: 'T', data: { i } }, -1n)));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof WrongExpectedRevisionError)).toHaveLength(49);
  const free = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => s.saveMessage('free', { type: 'T', data: { i } })));
  expect(free.filter((r) => r.status === 'rejected')).toHaveLength(0);
  expect((await s.getMessages('free')).map((m) => (m.message.data as { i: number }).i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
});

test('1,000 saves issued together keep call order, gapless', async () => {
  const s = store();
  await Promise.all(Array.from({ length: 1000 }, (_, i) => s.saveMessage(`s-${i % 7}`, { type: 'T', data: { i } })));
  const all = await s.getAllMessages();
  expect(all.map((m) => m.position)).toEqual(Array.from({ length: 1000 }, (_, i) => BigInt(i + 1)));
  expect(all.map((m) => (m.message.data as { i: number }).i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
});

test('a read called after a save that was not awaited sees it', async () => {
  const s = store();
  void s.saveMessage('a', { type: 'T', data: {} });
  expect((await s.getMessages('a')).map((m) => m.position)).toEqual([1n]);
});

test.each([
  ['PostgresMessageStore', () => store()],
  ['MemoryMessageStore (the same assertions)', () => new MemoryMessageStore()],
])('filters and count behave as in the other stores: %s', async (_name, create) => {
  const s = create();
  await s.saveMessages('orders-1', [
    { type: 'Placed', data: { orderId: 'ord-1', n: [1, 2] }, correlationId: 'c-1' },
    { type: 'Paid', data: { orderId: 'ord-1' }, correlationId: 'c-1', requestId: 'r-1' },
  ]);
  await s.saveMessage('user-commands', { type: 'CreateUser', data: { orderId: 'ord-2' }, requestId: 'r-2' });
  const positions = (ms: { position: bigint }[]) => ms.map((m) => m.position);
  expect(positions(await s.getAllMessages({ correlationId: 'c-1' }))).toEqual([1n, 2n]);
  expect(positions(await s.getAllMessages({ requestId: 'r-2' }))).toEqual([3n]);
  expect(positions(await s.getAllMessages({ messageNames: ['Paid', 'CreateUser'] }))).toEqual([2n, 3n]);
  expect(positions(await s.getAllMessages({ streamId: 'orders-1' }, 1))).toEqual([2n]);
  // Paid has a requestId: a command, as upstream decides.
  expect(positions(await s.getAllCommands())).toEqual([2n, 3n]);
  expect(positions(await s.getAllEvents())).toEqual([1n]);
  expect(positions(await s.getAllMessages({ fromPosition: 2n, toPosition: 2n }))).toEqual([2n]);
  expect(positions(await s.getAllMessages({ jsonFilter: { orderId: 'ord-1' } }))).toEqual([1n, 2n]);
  expect(positions(await s.getAllMessages({ jsonFilter: { orderId: 'ord-1' } }, 1))).toEqual([2n]);
  // Containment would match [1] inside [1, 2]; the exact test does not.
  expect(positions(await s.getAllMessages({ jsonFilter: { n: [1] } }))).toEqual([]);
  expect(positions(await s.getAllMessages({ jsonFilter: { n: [1, 2] } }))).toEqual([1n]);
  expect(positions(await s.getAllMessages({ jsonFilter: { missing: undefined } }))).toEqual([1n, 2n, 3n]);
  expect(positions(await s.getAllMessages({ fromTimestamp: new Date(Date.now() + 60_000) }))).toEqual([]);
  expect(positions(await s.getAllMessages({ sessionId: 'no-session' }))).toEqual([1n, 2n, 3n]);
});

test('sessions: created, current for this instance, counted, ended', async () => {
  const s = store();
  const id = await s.createSession();
  expect(id).toMatch(/^session-\d+-[A-Za-z0-9_-]{8}$/);
  await s.saveMessage('orders', { type: 'A', data: {} });
  await s.saveMessage('user-commands', { type: 'B', data: {} });
  const info = await s.getSessionInfo(id);
  expect([info?.messageCount, info?.commandCount, info?.eventCount]).toEqual([2, 1, 1]);
  expect((await s.getSessionMessages(id)).map((m) => m.sessionId)).toEqual([id, id]);
  expect(await s.getStreams()).toEqual([`session-${id}`, 'orders', 'user-commands']);
  await s.endSession(id);
  await s.saveMessage('orders', { type: 'C', data: {} });
  expect((await s.getMessages('orders')).map((m) => m.sessionId)).toEqual([id, 'no-session']);
  expect((await s.getSessions()).map((x) => x.sessionId)).toEqual([id]);
  expect(await s.getSessionInfo('nope')).toBeNull();
});

test('two instances on one schema share one store; the same expected revision lets exactly one through', async () => {
  const schema = freshSchema();
  const a = store(schema);
  const b = store(schema);
  await a.saveMessage('shared', { type: 'A', data: {} });
  const [x, y] = await Promise.allSettled([
    a.saveMessage('shared', { type: 'FromA', data: {} }, 0n),
    b.saveMessage('shared', { type: 'FromB', data: {} }, 0n),
  ]);
  expect([x.status, y.status].sort()).toEqual(['fulfilled', 'rejected']);
  const lost = (x.status === 'rejected' ? x : y) as PromiseRejectedResult;
  expect(lost.reason).toBeInstanceOf(WrongExpectedRevisionError);
  expect(lost.reason.message).toBe('Expected revision 0 but stream is at revision 1');
  expect((await b.getMessages('shared')).map((m) => m.revision)).toEqual([0n, 1n]);
  expect((await b.getStats()).totalMessages).toBe(2);
});

test('a reset sent again with its token (a lost reply) is applied once: what others saved after it stays', async () => {
  const schema = freshSchema();
  const other = store(schema);
  await other.saveMessage('before', { type: 'A', data: {} });
  const native = require('../lib/native.js').load();
  const pg = new native.PgStore(url, schema, { failoverTimeoutMs: 30_000 });
  await pg.reset('token-1');
  await other.saveMessage('after', { type: 'B', data: {} });
  await pg.reset('token-1');
  expect((await other.getAllMessages()).map((m) => [m.streamId, m.position])).toEqual([['after', 1n]]);
  await pg.reset('token-2');
  expect(await other.getAllMessages()).toEqual([]);
  await pg.close();
});

test('a group sent again with its batch id (a lost reply) is applied once and answered with its first outcome', async () => {
  const schema = freshSchema();
  const other = store(schema);
  await other.saveMessage('s', { type: 'Before', data: {} });
  const native = require('../lib/native.js').load();
  const { saveHeader } = require('../lib/wire.js');
  const pg = new native.PgStore(url, schema, { failoverTimeoutMs: 30_000 });
  const now = 1_000;
  const payload = [
    `${saveHeader(undefined, false, now, undefined)}\n"s"\n"no-session"\n{"type":"A","data":{}}`,
    `${saveHeader(undefined, false, now, 5)}\n"s"\n"no-session"\n{"type":"Refused","data":{}}`,
  ].join('\n');
  const first = await pg.append('batch-1', payload);
  expect(first).toEqual({ refused: [{ index: 1, code: 'WrongExpectedRevision', actual: 1 }], revisions: [1, null] });
  await other.saveMessage('s', { type: 'Between', data: {} });
  // Sent again: the stream moved on meanwhile, yet the answer is the first one and nothing is added.
  expect(await pg.append('batch-1', payload)).toEqual(first);
  expect((await other.getMessages('s')).map((m) => [m.message.type, m.revision, m.position])).toEqual([
    ['Before', 0n, 1n],
    ['A', 1n, 2n],
    ['Between', 2n, 3n],
  ]);
  await pg.close();
});

test('reset empties the schema for every instance; dispose closes (later calls refused), and a new instance finds the data', async () => {
  const schema = freshSchema();
  const a = store(schema);
  const b = store(schema);
  await a.saveMessage('x', { type: 'A', data: {} });
  await b.reset();
  expect(await a.getStreams()).toEqual([]);
  await a.saveMessage('y', { type: 'B', data: {} });
  expect((await a.getMessages('y'))[0].position).toBe(1n);
  await a.dispose();
  await expect(a.getMessages('y')).rejects.toMatchObject({ code: 'ERR_MESSAGE_STORE_CLOSED' });
  expect((await store(schema).getMessages('y')).map((m) => m.position)).toEqual([1n]);
});

test('bad input is the same TypeError as in the other stores, before any round trip', async () => {
  const unreachable = new PostgresMessageStore('postgres://nobody@127.0.0.1:1/none');
  await expect(unreachable.saveMessage(42 as never, { type: 'A', data: {} })).rejects.toThrow(
    new TypeError('streamId must be a string, got the number 42'),
  );
  await expect(unreachable.saveMessages('s', 'abc' as never)).rejects.toThrow(TypeError);
  await expect(unreachable.getAllMessages({ messageType: 'other' as never })).rejects.toThrow(TypeError);
  expect(() => new PostgresMessageStore({ connectionString: url, schema: 'Bad; DROP' })).toThrow(
    new TypeError(
      'options.schema must be a lower-case SQL name (a-z, 0-9 and _, not starting with a digit, at most 63), got the string "Bad; DROP"',
    ),
  );
  expect(() => new PostgresMessageStore({ connectionString: '' })).toThrow(
    new TypeError('options.connectionString must be a non-empty string, got the string ""'),
  );
});

test('an unreachable server: a clear error naming it, with a code; a later call tries again', async () => {
  const s = new PostgresMessageStore('postgres://nobody@127.0.0.1:1/none');
  const e = await s.getStats().catch((x) => x);
  expect(e.code).toBe('ERR_MESSAGE_STORE_CONNECT_FAILED');
  expect(e.message).toMatch(/^cannot connect to PostgreSQL at 127\.0\.0\.1:1: /);
  const again = await s.getStreams().catch((x) => x);
  expect(again.code).toBe('ERR_MESSAGE_STORE_CONNECT_FAILED');
});

test('a connection the server kills (pg_terminate_backend): the next call connects again, nothing lost or doubled', async () => {
  const schema = freshSchema();
  const s = store(schema);
  await s.saveMessage('k', { type: 'A', data: {} });
  // Every client connection to the database but the killer's own.
  const killer = path.resolve(__dirname, 'support/pg-kill.cjs');
  execFileSync(process.execPath, [killer, url], { stdio: 'inherit' });
  const after = await s.saveMessage('k', { type: 'B', data: {} }).then(
    () => 'saved',
    (e) => e.message,
  );
  // The save met the killed connection, connected again and was sent again (same
  // batch id): it resolves, and is there once.
  expect(after).toBe('saved');
  expect((await s.getMessages('k')).map((m) => [m.message.type, m.revision, m.position])).toEqual([
    ['A', 0n, 1n],
    ['B', 1n, 2n],
  ]);
});

/**
 * A TCP relay in front of the test server, which the test can take down (every
 * connection cut, the port closed) and bring back on the same port: a server lost
 * and found again, as in a restart or a failover, without touching the real one.
 */
async function relay() {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const up = () =>
    new Promise<void>((resolve, reject) => {
      const listening = net.createServer((client) => {
        const upstream = net.connect(Number(target.port), target.hostname);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('error', () => {});
          sock.on('close', () => {
            sockets.delete(sock);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server = listening;
      listening.once('error', reject);
      listening.listen(port, '127.0.0.1', () => {
        port = (listening.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const down = () =>
    new Promise<void>((resolve) => {
      for (const sock of sockets) sock.destroy();
      server?.close(() => resolve());
    });
  await up();
  const via = new URL(url);
  via.port = String(port);
  return { url: via.toString(), port, up, down };
}

test('the server lost mid-use: calls wait for it (failoverTimeout) and go on once it is back, sent once', async () => {
  const r = await relay();
  const schema = freshSchema();
  const s = new PostgresMessageStore({ connectionString: r.url, schema, failoverTimeout: 30_000 });
  open.push(s);
  await s.saveMessage('lost', { type: 'Before', data: {} });
  await r.down();
  let settled = false;
  const pending = s.saveMessage('lost', { type: 'During', data: {} }, 0n).finally(() => {
    settled = true;
  });
  const reading = s.getMessages('lost');
  await new Promise((resolve) => setTimeout(resolve, 400));
  expect(settled).toBe(false);
  await r.up();
  await pending;
  expect((await reading).map((m) => [m.message.type, m.revision, m.position])).toEqual([
    ['Before', 0n, 1n],
    ['During', 1n, 2n],
  ]);
  await r.down();
});

test('no server back within failoverTimeout: ERR_MESSAGE_STORE_FAILOVER_TIMEOUT naming it; the next call connects again', async () => {
  const r = await relay();
  const schema = freshSchema();
  const s = new PostgresMessageStore({ connectionString: r.url, schema, failoverTimeout: 300 });
  open.push(s);
  await s.saveMessage('gone', { type: 'Before', data: {} });
  await r.down();
  const e = await s.saveMessage('gone', { type: 'Lost', data: {} }).catch((x) => x);
  expect(e.code).toBe('ERR_MESSAGE_STORE_FAILOVER_TIMEOUT');
  // Whether the save left before the cut was seen depends on timing: the message says which.
  expect(e.message).toMatch(
    new RegExp(
      `^PostgreSQL at 127\\.0\\.0\\.1:${r.port}: the connection was lost and no server accepted writes within 300 ms \\(a failover or restart that has not finished\\); ` +
        `the call (was not sent|was sent before the connection broke and may have been applied \\(read before saving it again\\))\\. Last: cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${r.port}: `,
    ),
  );
  await r.up();
  await s.saveMessage('gone', { type: 'After', data: {} });
  // The relay was down: the refused save never reached the server.
  expect((await s.getMessages('gone')).map((m) => [m.message.type, m.revision])).toEqual([
    ['Before', 0n],
    ['After', 1n],
  ]);
  await r.down();
});

test('a store that never connected does not wait out a failover: its first call rejects at once', async () => {
  const r = await relay();
  await r.down();
  const s = new PostgresMessageStore({ connectionString: r.url, schema: freshSchema(), failoverTimeout: 3_600_000 });
  const e = await s.getStats().catch((x) => x);
  expect(e.code).toBe('ERR_MESSAGE_STORE_CONNECT_FAILED');
  expect(e.message).toMatch(new RegExp(`^cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${r.port}: `));
  await s.dispose();
});

test('failoverTimeout is checked', () => {
  for (const bad of [-1, 1.5, '10', 3_600_001]) {
    expect(() => new PostgresMessageStore({ connectionString: url, failoverTimeout: bad as number })).toThrow(
      new TypeError(
        `options.failoverTimeout must be a whole number of milliseconds from 0 to 3600000, got ${typeof bad === 'string' ? `the string "${bad}"` : `the number ${bad}`}`,
      ),
    );
  }
});

test('four writer processes at once: positions 1..N, revisions 0..n-1, every acknowledged save exactly once', async () => {
  const schema = freshSchema();
  const child = path.resolve(__dirname, 'support/pg-writer.cjs');
  const writers = 4;
  const each = 150;
  const outs = await Promise.all(
    Array.from(
      { length: writers },
      (_, w) =>
        new Promise<string>((resolve, reject) => {
          const p = spawn(process.execPath, [child, url, schema, String(w), String(each)], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          p.stdout.on('data', (d) => (out += d));
          p.stderr.on('data', (d) => (err += d));
          p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`writer ${w} exited with ${code}: ${err}`))));
        }),
    ),
  );
  const acked = outs.map((o) => JSON.parse(o) as { acked: number; conflicts: number });
  const s = store(schema);
  const all = await s.getAllMessages();
  expect(all.map((m) => m.position)).toEqual(Array.from({ length: all.length }, (_, i) => BigInt(i + 1)));
  const total = acked.reduce((n, a) => n + a.acked, 0);
  expect(all).toHaveLength(total);
  const keys = new Set(all.map((m) => JSON.stringify(m.message.data)));
  expect(keys.size).toBe(total);
  for (const stream of await s.getStreams()) {
    const revisions = (await s.getMessages(stream)).map((m) => m.revision);
    expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => BigInt(i)));
  }
  // The shared stream's conflicts: every writer's expected-revision save that lost.
  const conflicts = acked.reduce((n, a) => n + a.conflicts, 0);
  const shared = (await s.getMessages('shared')).length;
  expect(shared + conflicts).toBe(writers * (each / 3));
  console.log(
    `postgres writers: ${writers} processes, ${total} saves acknowledged, ${all.length} found, lost 0, duplicated ${all.length - keys.size}, ${conflicts} expected-revision conflicts`,
  );
});

/** Every message of the schema: positions must be 1..N and each key there once. */
async function checkWhole(s: PostgresMessageStore, acknowledged: string[]) {
  const all = await s.getAllMessages();
  expect(all.map((m) => m.position)).toEqual(Array.from({ length: all.length }, (_, i) => BigInt(i + 1)));
  const keys = all.map((m) => (m.message.data as { key: string }).key);
  const seen = new Set(keys);
  const duplicated = keys.length - seen.size;
  const lost = acknowledged.filter((k) => !seen.has(k)).length;
  expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
  return { found: all.length, lost, duplicated };
}

test('a writer killed with SIGKILL mid-load: every save it had acknowledged is there once, positions gapless', async () => {
  const schema = freshSchema();
  const loader = path.resolve(__dirname, 'support/pg-loader.cjs');
  const child = spawn(process.execPath, [loader, url, schema], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve) => {
    const wait = () => (out.split('\n').length > 400 ? resolve() : setTimeout(wait, 10));
    wait();
  });
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const acknowledged = out.split('\n').filter(Boolean);
  const summary = await checkWhole(store(schema), acknowledged);
  console.log(`postgres SIGKILL: 1 writer killed, ${acknowledged.length} saves acknowledged, ${summary.found} found, lost 0, duplicated 0`);
});

test('the server restarted mid-load: the store connects again; in-flight saves succeed or reject clearly; nothing acknowledged lost or doubled', async () => {
  const controller = spawn(
    process.execPath,
    [path.resolve(__dirname, 'support/pg-restartable.mjs'), String(20000 + (process.pid % 20000))],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  let said = '';
  controller.stdout.on('data', (d) => (said += d));
  const ready = async (n: number) => {
    while (said.split('\n').filter((l) => l.startsWith('ready ')).length < n) await new Promise((r) => setTimeout(r, 10));
    return said.split('\n')[0].slice('ready '.length);
  };
  try {
    const serverUrl = await ready(1);
    const s = new PostgresMessageStore({ connectionString: serverUrl, schema: 'restart' });
    const acknowledged: string[] = [];
    const refusals: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const key = String(i);
        await s.saveMessage('restart', { type: 'Load', data: { key } }).then(
          () => acknowledged.push(key),
          (e) => refusals.push(`${e.code}: ${e.message}`),
        );
      }
    })();
    while (acknowledged.length < 200) await new Promise((r) => setTimeout(r, 5));
    controller.stdin.write('restart\n');
    await ready(2);
    const before = acknowledged.length;
    while (acknowledged.length < before + 200) await new Promise((r) => setTimeout(r, 5));
    stop = true;
    await load;
    for (const r of refusals) {
      expect(r).toMatch(
        /^ERR_MESSAGE_STORE_(CONNECT|WRITE)_FAILED: (cannot connect to PostgreSQL at 127\.0\.0\.1:\d+: |message store write failed: PostgreSQL: )/,
      );
    }
    const summary = await checkWhole(s, acknowledged);
    console.log(
      `postgres restart: ${acknowledged.length} saves acknowledged, ${refusals.length} rejected while the server was down, ${summary.found} found, lost 0, duplicated 0`,
    );
    await s.dispose();
  } finally {
    controller.stdin.write('stop\n');
    await new Promise((resolve) => controller.on('exit', resolve));
  }
});
