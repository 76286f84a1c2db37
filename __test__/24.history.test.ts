// A store's history moves whole (docs/cli.md#the-history-format): exportHistory's text
// imported into an empty store of any kind reads back identical in every field, and
// exports the same text again; a history that is not whole, or a store that is not
// empty, is refused with its reason and changes nothing.
import { MemoryMessageStore, openMessageStore, SqliteMessageStore } from '@auto-engineer/message-store';
import { rejection, snapshot, text } from './support/history';
import { postgresStore, stores, tempDbPath } from './support/stores';

/** A history with every kind of field: commands and events, with and without a timestamp, sessions, an empty stream, odd names. */
async function fill(store: any) {
  await store.saveMessage('orders-1', { type: 'PlaceOrder', data: { total: 30 }, requestId: 'r-1' });
  await store.saveMessages('orders-1', [
    { type: 'OrderPlaced', data: { total: 30 }, correlationId: 'c-1' },
    { type: 'OrderShipped', data: { by: 'post' }, timestamp: new Date('2020-01-02T03:04:05.678Z') },
  ]);
  const session = await store.createSession();
  await store.saveMessage('user-commands', { type: 'Rename', data: { to: 'é "q" \n' }, requestId: 'r-2' }, undefined, 'command');
  await store.saveMessages('empty-stream', []);
  await store.saveMessage('naïve ✓ \ud83d\ude00', { type: 'Odd', data: { nested: { list: [1, 2, { x: null }] } } }, -1n);
  await store.endSession(session);
  await store.saveMessage('orders-2', { type: 'OrderPlaced', data: { total: 12 } }, 'no_stream', 'event');
  return session;
}

describe.each(stores)('$name', ({ create }) => {
  it('exports a history that an empty store of the same kind reads back identical', async () => {
    const a = create();
    const session = await fill(a);
    const exported = await text(a);
    const lines = exported.split('\n');
    expect(lines.at(-1)).toBe('');
    const header = JSON.parse(lines[0]);
    expect(header).toEqual({
      format: 'message-store-history',
      version: 1,
      after: 0,
      lastPosition: 6,
      messages: 6,
      streams: 6,
      sessions: [expect.objectContaining({ sessionId: session })],
    });
    const body = lines.slice(1, -1).map((l) => JSON.parse(l));
    expect(
      body.map((l) => (l.position === undefined ? `stream ${l.streamId}` : `${l.position} ${l.streamId}@${l.revision} ${l.messageType}`)),
    ).toEqual([
      'stream orders-1',
      '1 orders-1@0 command',
      '2 orders-1@1 event',
      '3 orders-1@2 event',
      `stream session-${session}`,
      'stream user-commands',
      '4 user-commands@0 command',
      'stream empty-stream',
      'stream naïve ✓ \ud83d\ude00',
      '5 naïve ✓ \ud83d\ude00@0 event',
      'stream orders-2',
      '6 orders-2@0 event',
    ]);
    // Stored as saved: a message saved without a timestamp has none in its line.
    expect(body[1].message).toEqual({ type: 'PlaceOrder', data: { total: 30 }, requestId: 'r-1' });
    expect(body[3].message.timestamp).toBe('2020-01-02T03:04:05.678Z');
    expect(body[6].sessionId).toBe(session);
    expect(body[2].sessionId).toBeUndefined();

    const b = create();
    expect(await b.importHistory([exported])).toEqual({ lastPosition: 6n, messages: 6, streams: 6, sessions: 1, skipped: 0 });
    expect(await snapshot(b)).toEqual(await snapshot(a));
    expect(await text(b)).toBe(exported);
    expect(await b.historyDigest()).toEqual(await a.historyDigest());
    // The copy goes on as the original would.
    await b.saveMessage('orders-1', { type: 'OrderClosed', data: {} }, 2n);
    expect((await b.getStreamInfo('orders-1')).revision).toBe(3n);
    expect((await b.getStats()).totalMessages).toBe(7);
  });

  it('refuses a store that is not empty, changing nothing', async () => {
    const a = create();
    await fill(a);
    const exported = await text(a);
    const b = create();
    await b.saveMessage('mine', { type: 'Kept', data: {} });
    const before = await snapshot(b);
    expect(await rejection(b.importHistory([exported]))).toEqual({
      code: 'ERR_MESSAGE_STORE_NOT_EMPTY',
      message:
        'the store is not empty (1 message, 1 stream, 0 sessions): a history is written into an empty store, or resumed into one that holds its start',
    });
    expect(await snapshot(b)).toEqual(before);
    expect((await rejection(b.importHistory([exported], { resume: true }))).code).toBe('ERR_MESSAGE_STORE_NOT_EMPTY');
    expect(await snapshot(b)).toEqual(before);
  });

  it('refuses a history that is not whole, naming the line, and leaves the store empty', async () => {
    const a = create();
    await fill(a);
    const lines = (await text(a)).split('\n');
    const cases: [string, string][] = [
      [
        lines.map((l) => l.replace('"position":3,', '"position":4,')).join('\n'),
        'line 5: position 4 where 3 was expected: positions must run without a gap',
      ],
      [
        lines
          .map((l) => l.replace('"position":3,"streamId":"orders-1","revision":2', '"position":3,"streamId":"orders-1","revision":3'))
          .join('\n'),
        'line 5: revision 3 of stream "orders-1" where 2 was expected: a stream\'s revisions must run without a gap',
      ],
      [
        [...lines.slice(0, 3), '{"position":2,', ...lines.slice(4)].join('\n'),
        'line 4: not a history line (EOF while parsing a value at line 1 column 14)',
      ],
      [
        lines.slice(0, 5).join('\n'),
        'the history is cut short: its header promises 6 messages and 6 streams, and it ends at line 5 after 3 and 1',
      ],
      [
        [lines[0].replace('"version":1', '"version":2'), ...lines.slice(1)].join('\n'),
        'line 1: format version 2 is unknown: this package reads version 1; upgrade @auto-engineer/message-store to read it',
      ],
      [
        lines.map((l) => l.replace('"type":"OrderPlaced","data":{"total":30}', '"data":{"total":30}')).join('\n'),
        'line 4: the message .type must be a string',
      ],
    ];
    for (const [history, reason] of cases) {
      const b = create();
      const failure = await rejection(b.importHistory([history]));
      expect(failure.code).toBe('ERR_MESSAGE_STORE_INVALID_HISTORY');
      const kept = reason.startsWith('line 1:') ? '' : '; nothing of it was kept: the store is empty again';
      expect(failure.message).toBe(reason + kept);
      const { stats } = await snapshot(b);
      expect([stats.totalMessages, stats.totalStreams, stats.totalSessions]).toEqual([0, 0, 0]);
    }
  });

  it('resumes a history into a store that holds its start, writing nothing twice', async () => {
    const a = create();
    await fill(a);
    const all = await text(a);
    const b = create();
    // The first two messages (and their stream), as a copy cut off there would have left.
    const lines = all.split('\n');
    const start = [
      lines[0].replace('"lastPosition":6,"messages":6', '"lastPosition":2,"messages":2').replace('"streams":6', '"streams":1'),
      ...lines.slice(1, 4),
      '',
    ].join('\n');
    expect((await b.importHistory([start])).lastPosition).toBe(2n);
    expect((await b.getStats()).totalMessages).toBe(2);
    // From position 2 on: the message at the store's head is compared, then skipped.
    expect(await b.importHistory(a.exportHistory({ after: 1n }), { resume: true })).toEqual({
      lastPosition: 6n,
      messages: 5,
      streams: 6,
      sessions: 1,
      skipped: 1,
    });
    expect(await snapshot(b)).toEqual(await snapshot(a));
    // Again: nothing more to write.
    expect((await b.importHistory(a.exportHistory({ after: 5n }), { resume: true })).skipped).toBe(1);
    expect(await b.historyDigest()).toEqual(await a.historyDigest());
  });
});

describe('a history moved across every kind of store', () => {
  it('memory → SQLite → PostgreSQL → NDJSON → memory reads back identical in every field', async () => {
    const memory = new MemoryMessageStore();
    await fill(memory);
    const want = await snapshot(memory);
    const path = tempDbPath();
    const sqlite = openMessageStore(`sqlite:${path}`) as any;
    await sqlite.importHistory(memory.exportHistory());
    expect(await snapshot(sqlite)).toEqual(want);
    // Reopened from its file, it is the same.
    await sqlite.dispose();
    const reopened = new SqliteMessageStore(path);
    expect(await snapshot(reopened)).toEqual(want);
    const pg = postgresStore.create();
    await pg.importHistory(reopened.exportHistory());
    expect(await snapshot(pg)).toEqual(want);
    let ndjson = '';
    for await (const page of pg.exportHistory()) ndjson += page;
    const back = new MemoryMessageStore();
    await back.importHistory([Buffer.from(ndjson)]);
    expect(await snapshot(back)).toEqual(want);
    const digest = await memory.historyDigest();
    expect(digest.lastPosition).toBe(6n);
    for (const s of [reopened, pg, back]) expect(await s.historyDigest()).toEqual(digest);
    await reopened.dispose();
  });
});

describe('openMessageStore', () => {
  it('opens each kind of store its locator names', async () => {
    const memory = openMessageStore('memory:');
    expect(memory).toBeInstanceOf(MemoryMessageStore);
    const path = tempDbPath();
    for (const locator of [path, `sqlite:${path}`]) {
      const s = openMessageStore(locator) as any;
      expect(s).toBeInstanceOf(SqliteMessageStore);
      await s.saveMessage('a', { type: 'A', data: {} });
      await s.dispose();
    }
    const again = new SqliteMessageStore(path);
    expect((await again.getStats()).totalMessages).toBe(2);
    await again.dispose();
    const url = new URL(process.env.DATABASE_URL as string);
    url.searchParams.set('schema', `locator_${process.pid}`);
    url.searchParams.set('poolSize', '2');
    const pg = openMessageStore(url.toString()) as any;
    await pg.saveMessage('a', { type: 'A', data: {} });
    const direct = postgresStore.create();
    expect(await direct.getStats()).toMatchObject({ totalMessages: 0 });
    expect((await pg.getStats()).totalMessages).toBe(1);
    await pg.dispose();
  });

  it('refuses what is not a locator, naming the accepted forms', () => {
    const forms = "'memory:', a SQLite file's path or 'sqlite:<path>', or a 'postgres://' or 'postgresql://' URL";
    expect(() => openMessageStore('mysql://h/db')).toThrow(new TypeError(`unknown store locator scheme 'mysql:': use ${forms}`));
    expect(() => openMessageStore('')).toThrow(new TypeError(`a store locator must be a non-empty string (${forms}), got the string ""`));
    expect(() => openMessageStore('postgres://h/db?poolSize=many')).toThrow(
      new TypeError('the locator\'s poolSize must be a whole number, got "many"'),
    );
    expect(() => openMessageStore('sqlite:')).toThrow(new TypeError('the locator "sqlite:" names no file: use \'sqlite:<path>\''));
  });
});

describe("a SQLite file's history read without opening the store", () => {
  it('is the store export, byte for byte, and the file as it was when read began', async () => {
    const { SqliteHistoryFile } = require('../lib/history.js');
    const native = require('../lib/native.js').load();
    const path = tempDbPath();
    const writer = new SqliteMessageStore(path);
    await fill(writer);
    const want = await text(writer);
    // Read beside the writer, which goes on saving: the history is the file at the start.
    const file = new SqliteHistoryFile(native, path);
    await writer.saveMessage('later', { type: 'Later', data: {} });
    let got = '';
    for await (const page of file.exportHistory()) got += page;
    expect(got).toBe(want);
    expect(await file.historyDigest()).toEqual(await writer.historyDigest(6));
    expect(file.headNow()).toBe(7);
    file.close();
    await writer.dispose();
    expect(() => new SqliteHistoryFile(native, `${path}.missing`)).toThrow(
      `cannot open the message store: ${path}.missing does not exist (a read-only store opens an existing file and never creates one)`,
    );
  });
});
