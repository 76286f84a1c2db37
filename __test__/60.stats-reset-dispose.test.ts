// docs/behaviour.md#whole-store: getStats, reset, dispose.

import { STATS_KEYS, tick } from './support/helpers';
import { stores } from './support/stores';

describe.each(stores)('$name: stats, reset, dispose', ({ create, durable, name }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  const emptyStats = {
    totalMessages: 0,
    totalCommands: 0,
    totalEvents: 0,
    totalStreams: 0,
    totalSessions: 0,
    memoryUsage: 0,
    oldestMessage: undefined,
    newestMessage: undefined,
  };

  test('a new store: zeros, memoryUsage 0, the two dates undefined with their keys present, in order', async () => {
    const stats = await store.getStats();
    expect(Object.keys(stats)).toEqual(STATS_KEYS);
    expect(stats).toStrictEqual(emptyStats);
    expect('oldestMessage' in stats).toBe(true);
    expect('newestMessage' in stats).toBe(true);
  });

  test('empty streams and sessions count as streams and sessions, not messages', async () => {
    await store.saveMessages('e', []);
    await store.createSession();
    const stats = await store.getStats();
    expect(Object.keys(stats)).toEqual(STATS_KEYS);
    expect({ ...stats, memoryUsage: 0 }).toStrictEqual({ ...emptyStats, totalStreams: 2, totalSessions: 1 });
  });

  test('totals, and oldest / newest save times', async () => {
    await store.saveMessage('user-commands', { type: 'C1', timestamp: new Date('2000-01-01T00:00:00.000Z') });
    await tick();
    await store.createSession();
    await store.saveMessages('user-events', [{ type: 'E1' }, { type: 'E2' }]);
    await tick();
    await store.saveMessage('plain', { type: 'C2', requestId: 'r', timestamp: new Date('2100-01-01T00:00:00.000Z') });
    const all = await store.getAllMessages();
    const stats = await store.getStats();
    expect(Object.keys(stats)).toEqual(STATS_KEYS);
    expect(stats).toEqual({
      totalMessages: 4,
      totalCommands: 2,
      totalEvents: 2,
      totalStreams: 4,
      totalSessions: 1,
      memoryUsage: expect.any(Number),
      oldestMessage: new Date(all[0].timestamp.getTime()),
      newestMessage: new Date(all[3].timestamp.getTime()),
    });
    expect(stats.newestMessage.getTime()).toBeGreaterThan(stats.oldestMessage.getTime());
  });

  test('rejected saves change no total', async () => {
    await store.saveMessage('s', { type: 'A' });
    const before = await store.getStats();
    await expect(store.saveMessage('s', { type: 'B' }, 3n)).rejects.toHaveProperty(
      'message',
      'Expected revision 3 but stream is at revision 0',
    );
    await expect(store.saveMessage('t', { type: 'B' }, 3n)).rejects.toHaveProperty(
      'message',
      'Stream t does not exist, but expected revision 3 was provided',
    );
    await expect(store.saveMessages('t', [{ type: 'B' }, { type: 2 }])).rejects.toBeInstanceOf(TypeError);
    expect(await store.getStats()).toEqual(before);
  });

  test('memoryUsage: an integer, 0 when empty, > 0 after a save, growing with more data', async () => {
    expect((await store.getStats()).memoryUsage).toBe(0);
    await store.saveMessage('s', { type: 'A', data: { v: 1 } });
    const one = (await store.getStats()).memoryUsage;
    expect(Number.isInteger(one)).toBe(true);
    expect(one).toBeGreaterThan(0);
    await store.saveMessage('s', { type: 'B', data: { v: 2 } });
    const two = (await store.getStats()).memoryUsage;
    expect(two).toBeGreaterThan(one);
    await store.saveMessage('t', { type: 'Big', data: { text: 'x'.repeat(100_000) } });
    const big = (await store.getStats()).memoryUsage;
    expect(big).toBeGreaterThanOrEqual(two + 100_000);
    await store.reset();
    expect((await store.getStats()).memoryUsage).toBe(0);
  });

  test('reset empties everything and positions start again at 1n', async () => {
    const id = await store.createSession();
    await store.saveMessages('s', [{ type: 'A' }, { type: 'B' }]);
    await store.saveMessage('t', { type: 'C' });
    await expect(store.reset()).resolves.toBeUndefined();
    expect(await store.getStats()).toStrictEqual(emptyStats);
    expect(await store.getStreams()).toEqual([]);
    expect(await store.getSessions()).toEqual([]);
    expect(await store.getSessionInfo(id)).toBeNull();
    expect(await store.getStreamInfo('s')).toBeNull();
    expect(await store.getStreamInfo(`session-${id}`)).toBeNull();
    expect(await store.getMessages('s')).toEqual([]);
    expect(await store.getAllMessages()).toEqual([]);
    expect(await store.getSessionMessages(id)).toEqual([]);
    await store.saveMessage('s', { type: 'D' }, -1n);
    const [m] = await store.getMessages('s');
    expect([m.revision, m.position, m.sessionId]).toEqual([0n, 1n, 'no-session']);
    await expect(store.saveMessage(`session-${id}`, { type: 'E' }, 0n)).rejects.toHaveProperty(
      'message',
      `Stream session-${id} does not exist, but expected revision 0 was provided`,
    );
  });

  test('reset on an empty store, and twice, is fine', async () => {
    await expect(store.reset()).resolves.toBeUndefined();
    await expect(store.reset()).resolves.toBeUndefined();
    expect(await store.getStats()).toStrictEqual(emptyStats);
  });

  // Each store has one of the two dispose() behaviours; each gets its own test.
  const memoryOnly = durable ? () => undefined : test;
  const fileOnly = durable ? test : () => undefined;

  memoryOnly('dispose empties everything too, and the store may be used again', async () => {
    await store.createSession();
    await store.saveMessage('s', { type: 'A' });
    await expect(store.dispose()).resolves.toBeUndefined();
    expect(await store.getStats()).toStrictEqual(emptyStats);
    expect(await store.getStreams()).toEqual([]);
    expect(await store.getSessions()).toEqual([]);
    await store.saveMessage('s', { type: 'B' });
    const [m] = await store.getMessages('s');
    expect([m.revision, m.position, m.sessionId]).toEqual([0n, 1n, 'no-session']);
    const id = await store.createSession();
    await store.saveMessage('s', { type: 'C' });
    expect((await store.getMessages('s'))[1].sessionId).toBe(id);
    await expect(store.dispose()).resolves.toBeUndefined();
    await expect(store.dispose()).resolves.toBeUndefined();
    expect(await store.getStats()).toStrictEqual(emptyStats);
  });

  // A store with a file: dispose() writes what is pending and closes the file; every
  // later call rejects with one clear error (reopen the file to use it again).
  fileOnly('dispose closes the file, and later calls reject', async () => {
    await store.saveMessage('s', { type: 'A' });
    const pending = store.saveMessage('s', { type: 'B' });
    await expect(store.dispose()).resolves.toBeUndefined();
    await expect(pending).resolves.toBeUndefined();
    // What to do next differs by store (docs/behaviour.md#whole-store).
    const closed = {
      code: 'ERR_MESSAGE_STORE_CLOSED',
      message: name.startsWith('PostgresMessageStore')
        ? 'the store is closed (disposed); make a new PostgresMessageStore to use it'
        : 'the store is closed (disposed); open the file again to use it',
    };
    await expect(store.getStats()).rejects.toMatchObject(closed);
    await expect(store.saveMessage('s', { type: 'C' })).rejects.toMatchObject(closed);
    await expect(store.getMessages('s')).rejects.toMatchObject(closed);
    await expect(store.createSession()).rejects.toMatchObject(closed);
    await expect(store.subscribe().next()).rejects.toMatchObject(closed);
    // Reads that need no search (nothing can match) are refused too.
    await expect(store.getSessionMessages('')).rejects.toMatchObject(closed);
    await expect(store.getAllMessages({ jsonFilter: { x: Number.NaN } })).rejects.toMatchObject(closed);
    await expect(store.getAllMessagesJson({ jsonFilter: { x: Number.NaN } })).rejects.toMatchObject(closed);
    await expect(store.dispose()).resolves.toBeUndefined();
  });
});
