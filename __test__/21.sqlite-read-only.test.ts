// A SQLite store opened read-only (`{ readOnly: true }`) beside its writer, which runs in
// another process (support/read-only-writer.js) and holds the file the whole time: the
// read-only store opens alongside it, reads what it holds, takes in what it saves later
// on every read, delivers it to subscriptions (the file is polled while one is open),
// follows its reset, and refuses every change with one error. A missing file is
// refused and not created. Every wait is on an event or a condition, with a generous
// deadline; every check is of exact values, none of timing.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { SqliteMessageStore } from '@auto-engineer/message-store';
import { tempDbPath } from './support/stores';

const WRITER = path.join(__dirname, 'support', 'read-only-writer.js');
/** How long a wait may take on a busy machine before the test fails. */
const DEADLINE_MS = 30_000;

/** `promise`, or a failure naming `what` once the deadline passed. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${DEADLINE_MS} ms`)), DEADLINE_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it holds (each try a read of the store), up to the deadline. */
async function eventually(what: string, check: () => Promise<boolean>) {
  const end = Date.now() + DEADLINE_MS;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${DEADLINE_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The writer process: `ask` sends it one operation and resolves to its answer. */
class Writer {
  #child: ChildProcessWithoutNullStreams;
  #next = 0;
  #waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  ready: Promise<void>;

  constructor(file: string) {
    this.#child = spawn(process.execPath, [WRITER, file], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.#child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    let onReady: () => void;
    let onFail: (e: Error) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    readline.createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line);
      if (answer.ready) return onReady();
      const w = this.#waiting.get(answer.id);
      this.#waiting.delete(answer.id);
      if (answer.error !== undefined) w?.reject(new Error(`the writer failed: ${answer.error}`));
      else w?.resolve(answer.value);
    });
    this.#child.on('exit', (code) => {
      const e = new Error(`the writer exited with ${code}: ${stderr}`);
      onFail(e);
      for (const w of this.#waiting.values()) w.reject(e);
      this.#waiting.clear();
    });
  }

  ask(op: string, args: object = {}): Promise<any> {
    const id = this.#next++;
    const answer = new Promise((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    this.#child.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`);
    return within(answer, `answer to ${op}`);
  }

  /** Ends the writer: it disposes its store and exits. */
  async stop() {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    await within(exited, 'exit of the writer');
  }
}

const writers: Writer[] = [];
const stores: any[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.dispose()));
  await Promise.all(writers.splice(0).map((w) => w.stop()));
});

/** A file held by a writer in another process that saved `orders` (2 events) and `users` (1 command). */
async function heldFile() {
  const file = tempDbPath();
  const writer = new Writer(file);
  writers.push(writer);
  await within(writer.ready, 'writer ready');
  await writer.ask('save', {
    stream: 'orders',
    messages: [
      { type: 'OrderPlaced', data: { orderId: 'o-1', total: 30 } },
      { type: 'OrderShipped', data: { orderId: 'o-1' } },
    ],
  });
  await writer.ask('save', { stream: 'users', messages: [{ type: 'CreateUser', data: { name: 'Ann' } }], messageType: 'command' });
  return { file, writer };
}

function readOnly(file: string, options: object = {}) {
  const store = new SqliteMessageStore(file, { readOnly: true, ...options });
  stores.push(store);
  return store;
}

const brief = (ms: any[]) => ms.map((m) => [m.streamId, m.revision, m.position, m.message.type, m.messageType]);

describe('SqliteMessageStore { readOnly: true }: reading a file another process writes', () => {
  test('opens beside the writer (no lock error) and reads exactly what it holds', async () => {
    const { file } = await heldFile();
    const store = readOnly(file);
    expect(brief(await store.getAllMessages())).toEqual([
      ['orders', 0n, 1n, 'OrderPlaced', 'event'],
      ['orders', 1n, 2n, 'OrderShipped', 'event'],
      ['users', 0n, 3n, 'CreateUser', 'command'],
    ]);
    expect((await store.getMessages('orders'))[0].message.data).toEqual({ orderId: 'o-1', total: 30 });
    expect(await store.getStreams()).toEqual(['orders', 'users']);
    expect(await store.getStats()).toMatchObject({ totalMessages: 3, totalCommands: 1, totalEvents: 2, totalStreams: 2, totalSessions: 0 });
    expect(await store.getStreamInfo('orders')).toMatchObject({ revision: 1n, messageCount: 2, firstPosition: 1n, lastPosition: 2n });
    // The writer still holds the file for writing: a second writer is refused.
    expect(() => new SqliteMessageStore(file)).toThrow(
      `cannot open the message store: ${file} is open in another process (one writer at a time); close it there first`,
    );
  });

  test('every read takes in what the writer saved since: messages, streams, sessions', async () => {
    const { file, writer } = await heldFile();
    const store = readOnly(file);
    expect(await store.getStreams()).toEqual(['orders', 'users']);
    expect((await store.getStats()).totalMessages).toBe(3);

    await writer.ask('save', { stream: 'orders', messages: [{ type: 'OrderPaid', data: { orderId: 'o-1' } }] });
    await writer.ask('save', { stream: 'billing', messages: [{ type: 'InvoiceSent', data: { n: 7 } }] });
    expect(brief(await store.getMessages('orders'))).toEqual([
      ['orders', 0n, 1n, 'OrderPlaced', 'event'],
      ['orders', 1n, 2n, 'OrderShipped', 'event'],
      ['orders', 2n, 4n, 'OrderPaid', 'event'],
    ]);
    expect(await store.getStreams()).toEqual(['orders', 'users', 'billing']);
    expect(await store.getStats()).toMatchObject({ totalMessages: 5, totalStreams: 3 });
    expect(JSON.parse(await store.getAllMessagesJson({ streamId: 'billing' }))).toMatchObject([
      { streamId: 'billing', position: '5', revision: '0', message: { type: 'InvoiceSent', data: { n: 7 } } },
    ]);

    const sessionId = await writer.ask('session');
    await writer.ask('save', { stream: 'orders', messages: [{ type: 'OrderRefunded', data: {} }] });
    const [session] = await store.getSessions();
    expect(session).toMatchObject({ sessionId, messageCount: 1, eventCount: 1, commandCount: 0 });
    expect(brief(await store.getSessionMessages(sessionId))).toEqual([['orders', 3n, 6n, 'OrderRefunded', 'event']]);
    const before = session.lastActivity.getTime();
    await writer.ask('end', { sessionId });
    const ended = await store.getSessionInfo(sessionId);
    expect(ended.lastActivity.getTime()).toBeGreaterThanOrEqual(before);
    expect((await store.getStats()).totalMessages).toBe(await writer.ask('count'));

    // Its history, exported or digested, takes in the writer's last save too.
    await writer.ask('save', { stream: 'late', messages: [{ type: 'Late', data: {} }] });
    expect((await store.historyDigest()).lastPosition).toBe(7n);
    let exported = '';
    for await (const page of store.exportHistory()) exported += page;
    expect(JSON.parse(exported.split('\n')[0])).toMatchObject({ lastPosition: 7, streams: 5, sessions: [{ sessionId }] });
    expect(JSON.parse(exported.split('\n').at(-2) as string)).toMatchObject({ position: 7, streamId: 'late', revision: 0 });
  });

  test('a subscription delivers what the writer saves later, each once, in order', async () => {
    const { file, writer } = await heldFile();
    const store = readOnly(file);
    const all = store.subscribe({ afterPosition: 3n });
    const live = store.subscribeToStream('live');
    // Pulled before the save: each waits for it.
    const pulled = [all.next(), live.next()];

    await writer.ask('save', { stream: 'live', messages: [{ type: 'Pinged', data: { n: 1, text: 'from the writer' } }] });
    const { value } = await within(pulled[0], 'message from the writer');
    expect(value).toMatchObject({
      streamId: 'live',
      position: 4n,
      revision: 0n,
      messageType: 'event',
      message: { type: 'Pinged', data: { n: 1, text: 'from the writer' } },
    });
    const first = await within(pulled[1], 'message on the stream');
    expect(first.value).toMatchObject({ streamId: 'live', position: 4n, revision: 0n, message: { type: 'Pinged' } });

    // A burst of saves in several commits: every one arrives, each once, in position order.
    await writer.ask('burst', { stream: 'burst', n: 300 });
    const got: bigint[] = [];
    while (got.length < 300) {
      const next = await within(all.next(), `burst message ${got.length}`);
      expect(next.value.message.type).toBe('Burst');
      expect(next.value.message.data.i).toBe(got.length);
      got.push(next.value.position);
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => BigInt(5 + i)));
    await all.close();
    await live.close();
  });

  test('every change is refused with one error and changes nothing, here or in the file', async () => {
    const { file, writer } = await heldFile();
    const store = readOnly(file);
    const text = `the store at ${file} was opened read-only; open it without readOnly to write (one writer at a time)`;
    const changes: [string, () => Promise<unknown>][] = [
      ['saveMessage', () => store.saveMessage('orders', { type: 'X', data: {} })],
      ['saveMessages', () => store.saveMessages('orders', [{ type: 'X', data: {} }])],
      ['createSession', () => store.createSession()],
      ['endSession', () => store.endSession('session-1-abcdefgh')],
      ['reset', () => store.reset()],
      ['importHistory', () => store.importHistory([])],
    ];
    for (const [name, change] of changes) {
      const error: any = await change().then(
        () => new Error(`${name} was not refused`),
        (e) => e,
      );
      expect([name, error.message, error.code]).toEqual([name, text, 'ERR_MESSAGE_STORE_READ_ONLY']);
    }
    expect((await store.getStats()).totalMessages).toBe(3);
    expect(await store.getSessions()).toEqual([]);
    expect(await writer.ask('count')).toBe(3);
  });

  test('a reset by the writer empties the reads and ends open subscriptions with the reset error', async () => {
    const { file, writer } = await heldFile();
    const store = readOnly(file);
    const sub = store.subscribe();
    const read: bigint[] = [];
    for (let i = 0; i < 3; i++) read.push((await within(sub.next(), 'stored message')).value.position);
    expect(read).toEqual([1n, 2n, 3n]);
    const ended = sub.next().then(
      () => null,
      (e: any) => e,
    );

    // A reset, then more saves than the file held: still a reset to the reader.
    await writer.ask('reset');
    await writer.ask('burst', { stream: 'after', n: 5 });
    const error = await within(ended, 'end of the subscription');
    expect([error?.message, error?.code]).toEqual([
      'the store was reset: the subscription ended, since the positions it followed no longer exist',
      'ERR_MESSAGE_STORE_RESET',
    ]);
    expect(brief(await store.getAllMessages())).toEqual(
      Array.from({ length: 5 }, (_, i) => ['after', BigInt(i), BigInt(i + 1), 'Burst', 'event']),
    );
    expect(await store.getStreams()).toEqual(['after']);

    // An emptied file, read without a subscription open.
    await writer.ask('reset');
    expect(await store.getAllMessages()).toEqual([]);
    expect(await store.getStats()).toMatchObject({ totalMessages: 0, totalStreams: 0 });
    await writer.ask('save', { stream: 'fresh', messages: [{ type: 'Again', data: {} }] });
    expect(brief(await store.getAllMessages())).toEqual([['fresh', 0n, 1n, 'Again', 'event']]);
  });

  test('reads on after the writer closed the file, and opens a file no writer holds', async () => {
    const { file, writer } = await heldFile();
    const store = readOnly(file);
    await writer.ask('save', { stream: 'late', messages: [{ type: 'Late', data: {} }] });
    await writer.stop();
    await eventually('the last save', async () => (await store.getStats()).totalMessages === 4);
    const alone = readOnly(file);
    expect(brief(await alone.getMessages('late'))).toEqual([['late', 0n, 4n, 'Late', 'event']]);
    // A writer may open it again while readers read.
    const again = new SqliteMessageStore(file);
    stores.push(again);
    await again.saveMessage('late', { type: 'Later', data: {} });
    expect(brief(await alone.getMessages('late'))).toEqual([
      ['late', 0n, 4n, 'Late', 'event'],
      ['late', 1n, 5n, 'Later', 'event'],
    ]);
  });
});

describe('SqliteMessageStore { readOnly: true }: what it refuses to open', () => {
  const siblings = (file: string) =>
    fs
      .readdirSync(path.dirname(file))
      .filter((f) => f.startsWith(path.basename(file)))
      .sort();

  test('a missing file: refused, and no file is made', () => {
    const file = tempDbPath();
    expect(() => new SqliteMessageStore(file, { readOnly: true })).toThrow(
      `cannot open the message store: ${file} does not exist (a read-only store opens an existing file and never creates one)`,
    );
    expect(siblings(file)).toEqual([]);
  });

  test('a file that is not a store: refused and left untouched', () => {
    const file = tempDbPath();
    fs.writeFileSync(file, 'these are not the messages you are looking for\n');
    expect(() => new SqliteMessageStore(file, { readOnly: true })).toThrow(
      `cannot open the message store: ${file} is not a message-store file (not a SQLite database); it was left untouched`,
    );
    expect(fs.readFileSync(file, 'utf8')).toBe('these are not the messages you are looking for\n');
    expect(siblings(file)).toEqual([path.basename(file)]);
  });

  test('options: durability with readOnly, and a readOnly that is not a boolean', () => {
    const file = tempDbPath();
    expect(() => new SqliteMessageStore(file, { readOnly: true, durability: 'power' })).toThrow(
      new TypeError('options.durability cannot be given with options.readOnly: a read-only store writes nothing'),
    );
    expect(() => new SqliteMessageStore(file, { readOnly: 'yes' } as any)).toThrow(
      new TypeError('options.readOnly must be a boolean, got the string "yes"'),
    );
    expect(siblings(file)).toEqual([]);
  });
});
