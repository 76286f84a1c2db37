// Restarts of the SQLite store: a SqliteMessageStore comes back from its file exactly as
// it was (100,000 messages, every read compared before and after); reset() empties the
// file; one writer at a time; a file that is not ours is refused and left untouched;
// bad constructor arguments are TypeErrors.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { SqliteMessageStore } from '@auto-engineer/message-store';
import { rng } from './support/random';
import { tempDbPath } from './support/stores';

type Json = any;

const N = 100_000;

/** What `new SqliteMessageStore(file)` throws (undefined when it opens). */
function openingError(file: string): Json {
  try {
    new SqliteMessageStore(file);
  } catch (e) {
    return e;
  }
  return undefined;
}

/** Deep equality (Dates, bigints, key order not considered) that is fast on 100,000 messages; on a difference, jest shows the first one. */
function expectSame(after: Json[], before: Json[], what: string) {
  if (isDeepStrictEqual(after, before)) return;
  expect(after.length).toBe(before.length);
  const i = after.findIndex((m, k) => !isDeepStrictEqual(m, before[k]));
  expect({ what, index: i, value: after[i] }).toEqual({ what, index: i, value: before[i] });
}

/** Fills `store` with N messages: streams, sessions begun and ended, batches, single saves, bursts. */
async function fill(store: Json, seed: number) {
  const random = rng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const STREAMS = ['orders-1', 'orders-2', 'orders-3', 'user-commands', 'billing-events', 'ünïcödé ✓ stream', 'plain', '"quoted"\\stream'];
  for (let i = 0; i < 20; i++) STREAMS.push(`customer-${i}`);
  const NAMES = ['PlaceOrder', 'OrderPlaced', 'ShipOrder', 'PaymentTaken', 'UserCreated'];
  const revisions = new Map<string, bigint>();
  let k = 0;
  let session: string | null = null;
  const sessions: string[] = [];
  const message = () => {
    const i = k++;
    const m: Json = {
      type: NAMES[i % NAMES.length],
      data: { i, note: i % 17 === 0 ? 'ünïcödé ✓ \u2028 "quotes" \\ ' : 'x', nested: { list: [1, 2.5, null, { deep: true }], empty: {} } },
    };
    if (i % 3 === 0) m.requestId = `req-${i}`;
    if (i % 7 === 0) m.correlationId = `corr-${i % 50}`;
    if (i % 11 === 0) m.timestamp = new Date(Date.UTC(2001, 0, 1) + i * 1000 + (i % 1000));
    if (i % 13 === 0) m.metadata = { source: 'restart-test', at: i };
    return m;
  };
  const save = (stream: string, count: number, batch: boolean) => {
    const ms = Array.from({ length: count }, message);
    const type = random() < 0.1 ? (random() < 0.5 ? 'command' : 'event') : undefined;
    const expected = random() < 0.2 ? (revisions.get(stream) ?? -1n) : undefined;
    revisions.set(stream, (revisions.get(stream) ?? -1n) + BigInt(count));
    return batch ? store.saveMessages(stream, ms, expected, type) : store.saveMessage(stream, ms[0], expected, type);
  };
  const pickStream = () => STREAMS[int(0, STREAMS.length - 1)];
  let empty = 0;
  const LIMIT = N - 1; // and one more in the last session
  while (k < LIMIT) {
    const r = random();
    const left = LIMIT - k;
    if (r < 0.03) {
      session = await store.createSession();
      sessions.push(session!);
    } else if (r < 0.05 && sessions.length) {
      // End the current one, or an older one (which leaves the current one current).
      const id: string = random() < 0.7 && session ? session : sessions[int(0, sessions.length - 1)];
      await store.endSession(id);
      if (id === session) session = null;
    } else if (r < 0.055) {
      await store.saveMessages(`empty-${empty++}`, []);
    } else if (r < 0.35) {
      await save(pickStream(), 1, false);
    } else if (r < 0.65) {
      await save(pickStream(), Math.min(left, int(1, 300)), true);
    } else {
      const saves = [];
      for (let j = int(10, 100); j > 0 && k < LIMIT; j--) {
        saves.push(random() < 0.8 ? save(pickStream(), 1, false) : save(pickStream(), Math.min(LIMIT - k, int(2, 20)), true));
      }
      await Promise.all(saves);
    }
  }
  // End with a session current that holds messages, to see that none is current after reopening.
  const last = await store.createSession();
  await store.saveMessage('orders-1', { type: 'InLastSession', data: {} });
  return { sessions: [...sessions, last], revisions };
}

/** Everything a store shows, through every read. */
async function snapshot(store: Json, from: Date, to: Date) {
  const stats = await store.getStats();
  const { memoryUsage, ...rest } = stats;
  const streams: string[] = await store.getStreams();
  const infos = [];
  const streamMessages = [];
  for (const s of streams) {
    infos.push(await store.getStreamInfo(s));
    streamMessages.push(await store.getMessagesJson(s));
  }
  const sessions = await store.getSessions();
  const sessionInfos = [];
  const sessionMessages = [];
  for (const s of sessions) {
    sessionInfos.push(await store.getSessionInfo(s.sessionId));
    sessionMessages.push(await store.getSessionMessages(s.sessionId));
  }
  const queries = {
    correlation: await store.getAllMessages({ correlationId: 'corr-7' }),
    request: await store.getAllMessages({ requestId: 'req-300' }),
    names: await store.getAllCommands({ messageNames: ['PlaceOrder', 'ShipOrder'] }, 500),
    events: await store.getAllEvents({ streamId: 'billing-events' }),
    json: await store.getAllMessages({ jsonFilter: { i: 4242 } }),
    range: await store.getAllMessages({ fromPosition: 50_000n, toPosition: 50_100n }),
    time: await store.getAllMessages({ fromTimestamp: from, toTimestamp: to }),
    last: await store.getMessages('orders-2', 10n, 5),
  };
  return { stats: rest, memoryUsage, streams, infos, streamMessages, sessions, sessionInfos, sessionMessages, queries };
}

describe('SqliteMessageStore: restart', () => {
  test(`a store of ${N.toLocaleString('en-US')} messages comes back exactly as it was`, async () => {
    const file = tempDbPath();
    let store = new SqliteMessageStore(file);
    const { sessions, revisions } = await fill(store, 7);
    const all = await store.getAllMessages();
    const json = await store.getAllMessagesJson();
    const [from, to] = [all[20_000].timestamp, all[20_500].timestamp];
    const before = await snapshot(store, from, to);
    expect(all.length).toBe(N);
    expect(before.stats.totalSessions).toBe(sessions.length);
    // The data has what the test means to cover.
    expect(all.some((m: Json) => m.sessionId !== 'no-session')).toBe(true);
    expect(all.some((m: Json) => m.sessionId === 'no-session')).toBe(true);
    expect(all.some((m: Json) => m.message.timestamp.getTime() !== m.timestamp.getTime())).toBe(true);
    expect(before.sessions.some((s: Json) => s.lastActivity.getTime() > s.startedAt.getTime())).toBe(true);
    expect(before.infos.some((i: Json) => i.messageCount === 0)).toBe(true);
    expect(before.queries.correlation.length).toBeGreaterThan(0);
    expect(before.queries.time.length).toBeGreaterThan(0);
    await store.dispose();

    const t = Date.now();
    store = new SqliteMessageStore(file);
    const reopenMs = Date.now() - t;
    try {
      expectSame(await store.getAllMessages(), all, 'getAllMessages');
      expect((await store.getAllMessagesJson()) === json).toBe(true);
      const after = await snapshot(store, from, to);
      expect(after.stats).toEqual(before.stats);
      expect(after.memoryUsage).toBeGreaterThan(0);
      expect(after.streams).toEqual(before.streams);
      expect(after.infos).toEqual(before.infos);
      expect(after.streamMessages).toEqual(before.streamMessages);
      expect(after.sessions).toEqual(before.sessions);
      expect(after.sessionInfos).toEqual(before.sessionInfos);
      for (let i = 0; i < before.sessionMessages.length; i++)
        expectSame(after.sessionMessages[i], before.sessionMessages[i], `getSessionMessages of session ${i}`);
      for (const [key, value] of Object.entries(before.queries)) expectSame((after.queries as Json)[key], value as Json[], key);

      // Writing continues where it stopped, outside any session, with the revisions checked.
      const rev: bigint = before.infos.find((i: Json) => i.streamId === 'orders-1').revision;
      expect(rev).toBe(revisions.get('orders-1')! + 1n);
      await store.saveMessage('orders-1', { type: 'AfterRestart', data: {} }, rev);
      await store.saveMessage('new-after-restart', { type: 'AfterRestart', data: {} }, -1n);
      const [a, b] = await store.getAllMessages({ fromPosition: BigInt(N + 1) });
      expect(a).toMatchObject({ streamId: 'orders-1', position: BigInt(N + 1), revision: rev + 1n, sessionId: 'no-session' });
      expect(b).toMatchObject({ streamId: 'new-after-restart', position: BigInt(N + 2), revision: 0n, sessionId: 'no-session' });
      await expect(store.saveMessage('orders-1', { type: 'Stale', data: {} }, rev)).rejects.toThrow(
        `Expected revision ${rev} but stream is at revision ${rev + 1n}`,
      );
      const lastSession = before.sessions[before.sessions.length - 1];
      expect(await store.getSessionInfo(lastSession.sessionId)).toEqual(before.sessionInfos[before.sessionInfos.length - 1]);
      const session = await store.createSession();
      expect(session).not.toBe(lastSession.sessionId);
      await store.saveMessage('orders-1', { type: 'InNewSession', data: {} });
      expect((await store.getMessages('orders-1', undefined, 1))[0]).toMatchObject({ position: BigInt(N + 3), sessionId: session });
      expect((await store.getStats()).totalSessions).toBe(sessions.length + 1);
    } finally {
      await store.dispose();
      for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    }
    console.log(
      `restart test: ${N.toLocaleString('en-US')} messages, ${sessions.length} sessions, ${before.streams.length} streams; reopened in ${reopenMs} ms`,
    );
  });
});

describe('SqliteMessageStore: reset() empties the file', () => {
  test('reopening a reset store finds it empty; positions start again at 1', async () => {
    const file = tempDbPath();
    let store = new SqliteMessageStore(file);
    await store.createSession();
    await store.saveMessages('s', [
      { type: 'A', data: {} },
      { type: 'B', data: {} },
    ]);
    await store.saveMessage('t', { type: 'C', data: {} });
    await store.reset();
    await store.dispose();
    store = new SqliteMessageStore(file);
    expect({ ...(await store.getStats()), memoryUsage: 0 }).toEqual({
      totalMessages: 0,
      totalCommands: 0,
      totalEvents: 0,
      totalStreams: 0,
      totalSessions: 0,
      memoryUsage: 0,
      oldestMessage: undefined,
      newestMessage: undefined,
    });
    expect(await store.getStreams()).toEqual([]);
    expect(await store.getSessions()).toEqual([]);
    await store.saveMessage('u', { type: 'D', data: {} });
    await store.dispose();
    store = new SqliteMessageStore(file);
    expect(await store.getAllMessages()).toMatchObject([{ streamId: 'u', position: 1n, revision: 0n, sessionId: 'no-session' }]);
    await store.dispose();
  });

  test('saves before a reset in the same turn are gone; saves after it are kept, from position 1', async () => {
    const file = tempDbPath();
    let store = new SqliteMessageStore(file);
    await store.saveMessage('old', { type: 'Old', data: {} });
    const dropped = store.saveMessages('dropped', [
      { type: 'X', data: {} },
      { type: 'Y', data: {} },
    ]);
    const reset = store.reset();
    const kept = store.saveMessage('kept', { type: 'Kept', data: {} });
    await Promise.all([dropped, reset, kept]);
    await store.dispose();
    store = new SqliteMessageStore(file);
    const all = await store.getAllMessages();
    expect(all).toMatchObject([{ streamId: 'kept', position: 1n, revision: 0n }]);
    expect(await store.getStreams()).toEqual(['kept']);
    await store.dispose();
  });

  // At 'power' the write runs on the thread pool: a reset may come while it is prepared,
  // queued or under way. Whatever the timing, the file ends as the store does.
  const waits: [string, () => Promise<unknown>][] = [
    ['in the same turn', async () => {}],
    [
      'a few microtasks later',
      async () => {
        for (let i = 0; i < 5; i++) await Promise.resolve();
      },
    ],
    ['in the next turn', () => new Promise((resolve) => setImmediate(resolve))],
    ['1 ms later', () => new Promise((resolve) => setTimeout(resolve, 1))],
  ];
  describe.each(['process', 'power'])("durability '%s'", (durability) => {
    test.each(waits)(
      'a reset %s after a save that is not awaited: the file ends with only what came after the reset',
      async (_name, wait) => {
        const file = tempDbPath();
        let store = new SqliteMessageStore(file, { durability: durability as 'process' | 'power' });
        await store.createSession();
        await store.saveMessage('old', { type: 'Old', data: {} });
        const dropped = store.saveMessages(
          'dropped',
          Array.from({ length: 500 }, (_, i) => ({ type: 'X', data: { i } })),
        );
        const results: Promise<unknown>[] = [dropped];
        await wait();
        results.push(store.reset());
        results.push(store.saveMessage('kept', { type: 'Kept', data: {} }));
        await Promise.all(results);
        const live = await store.getAllMessages();
        await store.dispose();
        store = new SqliteMessageStore(file);
        const all = await store.getAllMessages();
        expect(all).toEqual(live);
        expect(all).toMatchObject([{ streamId: 'kept', position: 1n, revision: 0n, sessionId: 'no-session' }]);
        expect(await store.getStreams()).toEqual(['kept']);
        expect(await store.getSessions()).toEqual([]);
        await store.dispose();
      },
    );
  });
});

describe('SqliteMessageStore: one writer at a time', () => {
  test('a second store on the same file, in the same process, is refused; the first keeps working', async () => {
    const file = tempDbPath();
    const first = new SqliteMessageStore(file);
    await first.saveMessage('s', { type: 'A', data: {} });
    const error = openingError(file);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/is open in another process/);
    expect(error.message).toContain(file);
    await first.saveMessage('s', { type: 'B', data: {} });
    expect(await first.getMessages('s')).toHaveLength(2);
    await first.dispose();
    const second = new SqliteMessageStore(file);
    expect(await second.getMessages('s')).toHaveLength(2);
    await second.dispose();
  });

  test('a store held by another process is refused at once', async () => {
    const file = tempDbPath();
    const pkg = path.resolve(__dirname, '..');
    const child = spawn(
      process.execPath,
      [
        '-e',
        `const { SqliteMessageStore } = require(${JSON.stringify(pkg)}); const s = new SqliteMessageStore(${JSON.stringify(file)}); s.saveMessage('s', { type: 'A', data: {} }).then(() => console.log('ready')); setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
      });
      const t = Date.now();
      expect(() => new SqliteMessageStore(file)).toThrow(/is open in another process/);
      expect(Date.now() - t).toBeLessThan(1000);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
    // Once it is gone, the file opens, with what the other process saved.
    const store = new SqliteMessageStore(file);
    expect(await store.getMessages('s')).toMatchObject([{ message: { type: 'A', data: {} } }]);
    await store.dispose();
  });
});

describe('SqliteMessageStore: a file that is not ours is refused and left untouched', () => {
  const siblings = (file: string) =>
    fs
      .readdirSync(path.dirname(file))
      .filter((f) => f.startsWith(path.basename(file)))
      .sort();

  function expectRefused(file: string, pattern: RegExp) {
    const bytes = fs.readFileSync(file);
    const stat = fs.statSync(file);
    const error = openingError(file);
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(pattern);
    expect(error.message).toContain(file);
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(fs.statSync(file).mtimeMs).toBe(stat.mtimeMs);
    expect(siblings(file)).toEqual([path.basename(file)]);
    return error;
  }

  test('a text file', () => {
    const file = tempDbPath();
    fs.writeFileSync(file, 'hello, this is my shopping list\n- milk\n- eggs\n');
    const error = expectRefused(file, /is not a message-store file \(not a SQLite database\); it was left untouched/);
    expect(error.message).toBe(
      `cannot open the message store: ${file} is not a message-store file (not a SQLite database); it was left untouched`,
    );
  });

  test('100 random bytes', () => {
    const file = tempDbPath();
    const bytes = crypto.randomBytes(100);
    bytes[0] = 0x00; // never "S", so never SQLite's header by chance
    fs.writeFileSync(file, bytes);
    expectRefused(file, /is not a message-store file \(not a SQLite database\); it was left untouched/);
  });

  test("SQLite's header followed by garbage", () => {
    const file = tempDbPath();
    fs.writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0'), crypto.randomBytes(4080)]));
    expectRefused(file, /is not a message-store file|does not replay/);
  });

  // SQL on a file as another application would run it: a hook of the tests' own build
  // (`pnpm build:test-hooks`), so no sqlite3 command-line tool is needed.
  const sql = (file: string, text: string): string[] => {
    const testBuild = path.resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
    if (!fs.existsSync(testBuild)) throw new Error(`missing ${testBuild}: run \`pnpm build:test-hooks\` first`);
    return require(testBuild).testSql(file, text);
  };

  test("another application's SQLite database", () => {
    const file = tempDbPath();
    expect(sql(file, "CREATE TABLE todo (id INTEGER PRIMARY KEY, what TEXT); INSERT INTO todo (what) VALUES ('milk');")).toEqual([]);
    expectRefused(
      file,
      /is not a message-store file \(a SQLite database of another application \(application_id 0\)\); it was left untouched/,
    );
    expect(sql(file, 'SELECT what FROM todo')).toEqual(['milk']);
  });

  test('one of ours from a newer version (a higher schema version)', async () => {
    const file = tempDbPath();
    const store = new SqliteMessageStore(file);
    await store.saveMessage('s', { type: 'A', data: {} });
    await store.dispose();
    sql(file, 'PRAGMA user_version = 99');
    expect(sql(file, 'SELECT user_version FROM pragma_user_version')).toEqual(['99']);
    expectRefused(file, /has schema version 99, newer than the 2 this version of @auto-engineer\/message-store reads/);
  });
});

describe('SqliteMessageStore: constructor arguments', () => {
  test.each([
    ['a number', [42], 'path must be a non-empty string, got the number 42'],
    ['undefined', [], 'path must be a non-empty string, got undefined'],
    ['null', [null], 'path must be a non-empty string, got null'],
    ["''", [''], 'path must be a non-empty string, got the string ""'],
    ['an object', [{ path: 'x.db' }], 'path must be a non-empty string, got an object'],
  ])('path %s: TypeError', (_name, args, text) => {
    expect(() => new (SqliteMessageStore as Json)(...args)).toThrow(new TypeError(text));
    try {
      new (SqliteMessageStore as Json)(...args);
    } catch (e) {
      expect(e).toBeInstanceOf(TypeError);
      expect((e as Error).message).toBe(text);
    }
  });

  test.each([
    ["durability 'disk'", { durability: 'disk' }, `options.durability must be 'process' or 'power', got the string "disk"`],
    ['durability 1', { durability: 1 }, `options.durability must be 'process' or 'power', got the number 1`],
    ['a string', 'power', 'options must be an object, got the string "power"'],
    ['an array', ['power'], 'options must be an object, got an array'],
  ])('options %s: TypeError, and no file is made', (_name, options, text) => {
    const file = tempDbPath();
    let error: Json;
    try {
      new (SqliteMessageStore as Json)(file, options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(text);
    expect(fs.existsSync(file)).toBe(false);
  });

  test.each([[undefined], [null], [{}], [{ durability: undefined }], [{ durability: 'process' }], [{ durability: 'power' }]])(
    'options %p are accepted: the store saves, and the file has it on reopening',
    async (options) => {
      const file = tempDbPath();
      const store = new SqliteMessageStore(file, options as Json);
      await store.saveMessages('s', [
        { type: 'A', data: {} },
        { type: 'B', data: { n: 1 } },
      ]);
      await store.dispose();
      const again = new SqliteMessageStore(file);
      const read = await again.getMessages('s');
      expect(read.map((m) => [m.message.type, m.revision, m.position])).toEqual([
        ['A', 0n, 1n],
        ['B', 1n, 2n],
      ]);
      await again.dispose();
    },
  );

  test('a path in a folder that does not exist: a clear Error', () => {
    const file = path.join(path.dirname(tempDbPath()), 'no-such-folder', 'x.db');
    expect(() => new SqliteMessageStore(file)).toThrow(/^cannot open the message store: /);
    expect(fs.existsSync(path.dirname(file))).toBe(false);
  });

  test('after dispose() calls reject with a clear error; reopening gives the data back', async () => {
    const file = tempDbPath();
    const store = new SqliteMessageStore(file);
    await store.saveMessage('s', { type: 'A', data: {} });
    await store.dispose();
    await expect(store.saveMessage('s', { type: 'B', data: {} })).rejects.toThrow(Error);
    await expect(store.getAllMessages()).rejects.toThrow(Error);
    const again = new SqliteMessageStore(file);
    expect(await again.getMessages('s')).toMatchObject([{ message: { type: 'A', data: {} } }]);
    await again.dispose();
  });

  // Saves without expectedRevision reach the engine together, in a microtask; a
  // dispose() in the same turn still writes them first, and their promises resolve.
  test('saves not awaited, then dispose() in the same turn: all resolve, all are in the file', async () => {
    const file = tempDbPath();
    const store = new SqliteMessageStore(file);
    const saves = [1, 2, 3].map((n) => store.saveMessage('s', { type: 'T', data: { n } }));
    const closing = store.dispose();
    expect(await Promise.all(saves)).toEqual([undefined, undefined, undefined]);
    await closing;
    await expect(store.saveMessage('s', { type: 'Late', data: {} })).rejects.toThrow(
      'the store is closed (disposed); open the file again to use it',
    );
    const again = new SqliteMessageStore(file);
    expect((await again.getMessages('s')).map((m) => [m.message.data, m.revision, m.position])).toEqual([
      [{ n: 1 }, 0n, 1n],
      [{ n: 2 }, 1n, 2n],
      [{ n: 3 }, 2n, 3n],
    ]);
    await again.dispose();
  });
});
