// Jest runs each test file in its own vm context: everything returned must belong to
// this file's realm, so the usual matchers work.

import * as vm from 'node:vm';
import { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } from '@auto-engineer/message-store';
import { stores } from './support/stores';

describe.each(stores)('$name: results belong to the caller realm', ({ create }) => {
  let store: any;
  let id: string;
  beforeEach(async () => {
    store = create();
    id = await store.createSession();
    await store.saveMessage('s', { type: 'A', data: { list: [1, [2]], obj: { k: 'v' } }, timestamp: new Date(1000) });
  });

  test('every method returns a promise of this realm', () => {
    const results = [
      store.saveMessage('s', { type: 'B' }),
      store.saveMessages('s', []),
      store.getMessages('s'),
      store.getAllMessages(),
      store.getAllCommands(),
      store.getAllEvents(),
      store.getStreamInfo('s'),
      store.getStreams(),
      store.getSessions(),
      store.getSessionInfo(id),
      store.getSessionMessages(id),
      store.getStats(),
      store.createSession(),
      store.endSession(id),
      store.reset(),
      store.dispose(),
    ];
    for (const p of results) expect(p).toBeInstanceOf(Promise);
    return Promise.all(results);
  });

  test('Dates pass toBeInstanceOf(Date)', async () => {
    const [m] = await store.getMessages('s');
    const info = await store.getStreamInfo('s');
    const session = await store.getSessionInfo(id);
    const [listed] = await store.getSessions();
    const stats = await store.getStats();
    for (const d of [
      m.timestamp,
      m.message.timestamp,
      info.createdAt,
      info.lastUpdated,
      session.startedAt,
      session.lastActivity,
      listed.startedAt,
      stats.oldestMessage,
      stats.newestMessage,
    ]) {
      expect(d).toBeInstanceOf(Date);
      expect(Object.prototype.toString.call(d)).toBe('[object Date]');
    }
    expect(m.message.timestamp).toEqual(new Date(1000));
  });

  test('arrays pass Array.isArray and toBeInstanceOf(Array); objects have this realm Object.prototype', async () => {
    const arrays = [
      await store.getMessages('s'),
      await store.getMessages('nope'),
      await store.getAllMessages(),
      await store.getAllCommands(),
      await store.getAllEvents(),
      await store.getSessionMessages(id),
      await store.getStreams(),
      await store.getSessions(),
    ];
    for (const a of arrays) {
      expect(Array.isArray(a)).toBe(true);
      expect(a).toBeInstanceOf(Array);
    }
    const [m] = await store.getMessages('s');
    expect(m.message.data.list).toBeInstanceOf(Array);
    expect(m.message.data.list[1]).toBeInstanceOf(Array);
    for (const o of [m, m.message, m.message.data, m.message.data.obj, await store.getStreamInfo('s'), await store.getStats()]) {
      expect(o).toBeInstanceOf(Object);
      expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
    }
  });

  test('toEqual against literals with Date and bigint values', async () => {
    const [m] = await store.getMessages('s');
    expect(m).toEqual({
      streamId: 's',
      message: { type: 'A', data: { list: [1, [2]], obj: { k: 'v' } }, timestamp: new Date(1000) },
      messageType: 'event',
      revision: 0n,
      position: 1n,
      timestamp: new Date(m.timestamp.getTime()),
      sessionId: id,
    });
    expect(m).toStrictEqual({
      streamId: 's',
      message: { type: 'A', data: { list: [1, [2]], obj: { k: 'v' } }, timestamp: new Date(1000) },
      messageType: 'event',
      revision: 0n,
      position: 1n,
      timestamp: new Date(m.timestamp.getTime()),
      sessionId: id,
    });
    expect(await store.getStreamInfo('s')).toEqual({
      streamId: 's',
      revision: 0n,
      messageCount: 1,
      firstPosition: 1n,
      lastPosition: 1n,
      createdAt: expect.any(Date),
      lastUpdated: new Date(m.timestamp.getTime()),
    });
    expect(await store.getAllMessages({}, 1)).toEqual([m]);
  });

  test('rejections: toThrow(Error), toBeInstanceOf(TypeError) and the concurrency classes', async () => {
    await expect(store.saveMessage('s', { type: 'B' }, 5n)).rejects.toThrow(Error);
    await expect(store.saveMessage('s', { type: 'B' }, 5n)).rejects.toBeInstanceOf(Error);
    await expect(store.saveMessage('s', { type: 'B' }, 5n)).rejects.toThrow(WrongExpectedRevisionError);
    await expect(store.saveMessage('s', { type: 'B' }, 5n)).rejects.toThrow(ConcurrencyError);
    await expect(store.saveMessage('t', { type: 'B' }, 5n)).rejects.toThrow(StreamNotFoundError);
    await expect(store.saveMessage('t', { type: 'B' }, 5n)).rejects.toThrow(
      new Error('Stream t does not exist, but expected revision 5 was provided'),
    );
    await expect(store.saveMessage(5, { type: 'B' })).rejects.toThrow(Error);
    await expect(store.saveMessage(5, { type: 'B' })).rejects.toThrow(TypeError);
    await expect(store.saveMessage(5, { type: 'B' })).rejects.toBeInstanceOf(TypeError);
    await expect(store.getAllMessages({ jsonFilter: [] })).rejects.toBeInstanceOf(TypeError);
    await expect(store.getMessages('s', 1.5)).rejects.toThrow(TypeError);
    await expect(store.saveMessage('s', { type: 'B', data: { b: 1n } })).rejects.toThrow(
      new TypeError('message.data.b is a bigint, which JSON cannot hold'),
    );
  });

  test('input made in another realm (arrays, objects, Dates) is accepted and read back in this one', async () => {
    const foreign = vm.runInNewContext(`({
      messages: [{ type: 'F', data: { list: [1, 2] }, timestamp: new Date(5000) }],
      filter: { messageNames: ['F'], fromTimestamp: new Date(0), jsonFilter: { list: [1, 2] } },
    })`);
    expect(foreign.messages).not.toBeInstanceOf(Array);
    await store.saveMessages('foreign', foreign.messages);
    const found = await store.getAllMessages(foreign.filter);
    expect(found).toHaveLength(1);
    expect(found[0].message).toEqual({ type: 'F', data: { list: [1, 2] }, timestamp: new Date(5000) });
    expect(found[0].message.timestamp).toBeInstanceOf(Date);
    expect(found[0].message.data.list).toBeInstanceOf(Array);
    const bad = vm.runInNewContext(`new Date(NaN)`);
    await expect(store.saveMessage('foreign', { type: 'G', timestamp: bad })).rejects.toHaveProperty(
      'message',
      'message.timestamp must be a valid Date, got a Date',
    );
  });

  test('revisions and positions are bigints', async () => {
    const [m] = await store.getMessages('s');
    expect(typeof m.revision).toBe('bigint');
    expect(typeof m.position).toBe('bigint');
    const info = await store.getStreamInfo('s');
    expect([typeof info.revision, typeof info.firstPosition, typeof info.lastPosition]).toEqual(['bigint', 'bigint', 'bigint']);
  });
});
