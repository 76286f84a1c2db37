// docs/behaviour.md#writing-copy: the store keeps its own copy of what is saved. What a read returns
// is shared and immutable (messages) or fresh (everything else): no caller can change
// what a later read returns.
import { stores } from './support/stores';

describe.each(stores)('$name: copies', ({ create, keepsObjects }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  test('changing the caller message after the save changes nothing stored', async () => {
    const ts = new Date('2020-01-01T00:00:00.000Z');
    const message: any = { type: 'A', data: { n: 1, list: [1, 2], inner: { k: 'v' } }, timestamp: ts, requestId: 'r' };
    const batch: any[] = [message, { type: 'B', data: { n: 2 } }];
    await store.saveMessages('s', batch);
    message.type = 'Changed';
    message.data.n = 99;
    message.data.list.push(3);
    message.data.inner.k = 'changed';
    message.requestId = 'changed';
    message.extra = true;
    ts.setTime(0);
    batch[1].data.n = 99;
    batch.push({ type: 'C' });
    const [a, b] = await store.getMessages('s');
    expect(a.message).toEqual({
      type: 'A',
      data: { n: 1, list: [1, 2], inner: { k: 'v' } },
      timestamp: new Date('2020-01-01T00:00:00.000Z'),
      requestId: 'r',
    });
    expect(b.message.data).toEqual({ n: 2 });
    expect(await store.getMessages('s')).toHaveLength(2);
  });

  test('the save does not touch the caller object (no timestamp added or replaced)', async () => {
    const absent: any = { type: 'A', data: { x: 1 } };
    const nul: any = { type: 'B', timestamp: null };
    const undef: any = { type: 'C', timestamp: undefined };
    const batch = [absent, nul, undef];
    await store.saveMessages('s', batch);
    await store.saveMessage('s', absent);
    expect(absent).toStrictEqual({ type: 'A', data: { x: 1 } });
    expect(Object.keys(absent)).toEqual(['type', 'data']);
    expect(nul.timestamp).toBeNull();
    expect(Object.keys(undef)).toEqual(['type', 'timestamp']);
    expect(undef.timestamp).toBeUndefined();
    expect(batch).toEqual([absent, nul, undef]);
    expect(batch).toHaveLength(3);
  });

  // Messages a read returns are shared by every later read (lib/cache.js), so they are
  // immutable: every write to them throws (the tests are ES modules, in strict mode).
  test('writing to a returned message, its data or its Dates throws a TypeError and changes no later read', async () => {
    await store.saveMessage('s', { type: 'A', data: { n: 1, list: [1, 2] }, requestId: 'r' });
    const first = await store.getMessages('s');
    const m = first[0];
    const saveTime = m.timestamp.getTime();
    const writes: Array<[string, () => unknown, string]> = [
      ['data.n', () => (m.message.data.n = 2), "Cannot assign to read only property 'n' of object '#<Object>'"],
      ['data.list.push', () => m.message.data.list.push(3), 'Cannot add property 2, object is not extensible'],
      ['data.added', () => (m.message.data.added = 1), 'Cannot add property added, object is not extensible'],
      ['delete data.n', () => delete m.message.data.n, "Cannot delete property 'n' of #<Object>"],
      ['message.type', () => (m.message.type = 'X'), "Cannot assign to read only property 'type' of object '#<Object>'"],
      ['revision', () => (m.revision = 5n), "Cannot assign to read only property 'revision' of object '#<Object>'"],
      ['streamId', () => (m.streamId = 'other'), "Cannot assign to read only property 'streamId' of object '#<Object>'"],
      ['sessionId', () => (m.sessionId = 'other'), "Cannot assign to read only property 'sessionId' of object '#<Object>'"],
    ];
    for (const [, write, text] of writes) expect(write).toThrow(new TypeError(text));
    const shared =
      'a message read from the store is shared by every read and cannot be changed; copy it first (new Date(date), structuredClone(message))';
    for (const setter of ['setTime', 'setFullYear', 'setUTCHours', 'setMilliseconds', 'setDate', 'setMonth', 'setYear']) {
      expect(() => m.timestamp[setter](0)).toThrow(new TypeError(`Date.prototype.${setter}: ${shared}`));
      expect(() => m.message.timestamp[setter](0)).toThrow(new TypeError(`Date.prototype.${setter}: ${shared}`));
    }
    expect(() => (m.timestamp.extra = 1)).toThrow(TypeError);
    // The array itself is the caller's own.
    first.push({ fake: true });
    expect(first).toHaveLength(2);
    const again = await store.getMessages('s');
    expect(again).toHaveLength(1);
    expect(again[0]).toEqual({
      streamId: 's',
      message: { type: 'A', data: { n: 1, list: [1, 2] }, requestId: 'r', timestamp: new Date(saveTime) },
      messageType: 'command',
      revision: 0n,
      position: 1n,
      timestamp: new Date(saveTime),
      sessionId: 'no-session',
    });
    expect(again[0].timestamp.getTime()).toBe(saveTime);
    const viaAll = await store.getAllMessages();
    expect(viaAll[0].message.data).toEqual({ n: 1, list: [1, 2] });
  });

  test("a copy of a returned message is the caller's to change", async () => {
    await store.saveMessage('s', { type: 'A', data: { n: 1, list: [1] } });
    const [m] = await store.getMessages('s');
    const copy = structuredClone(m);
    copy.message.data.n = 2;
    copy.message.data.list.push(2);
    copy.timestamp.setTime(0);
    const spread = { ...m, revision: String(m.revision) };
    expect(spread.revision).toBe('0');
    // structuredClone makes plain Dates (of Node's own realm, outside jest's).
    expect(Object.prototype.toString.call(copy.timestamp)).toBe('[object Date]');
    expect(copy.timestamp.getTime()).toBe(0);
    const [again] = await store.getMessages('s');
    expect(again.message.data).toEqual({ n: 1, list: [1] });
    expect(again.timestamp.getTime()).toBe(m.timestamp.getTime());
  });

  test('reads share the objects they return (a server: equal, frozen objects); each read returns its own array', async () => {
    await store.saveMessage('s', { type: 'A', data: { x: {} } });
    await store.saveMessage('t', { type: 'B', data: { y: [] } });
    const a = await store.getMessages('s');
    const b = await store.getMessages('s');
    const all = await store.getAllMessages();
    const events = await store.getAllEvents({ messageNames: ['A'] });
    expect(a).not.toBe(b);
    expect(a[0]).toEqual(b[0]);
    if (keepsObjects) {
      expect(a[0]).toBe(b[0]);
      expect(a[0]).toBe(all[0]);
      expect(a[0]).toBe(events[0]);
      expect(a[0].message.data.x).toBe(all[0].message.data.x);
    } else {
      // A server's reads build their own objects (docs/behaviour.md#reading-shared).
      expect(a[0]).not.toBe(b[0]);
      expect(a[0].message.data.x).not.toBe(all[0].message.data.x);
    }
    expect(Object.isFrozen(a[0])).toBe(true);
    expect(Object.isFrozen(a[0].message)).toBe(true);
    expect(Object.isFrozen(all[1].message.data.y)).toBe(true);
    expect(Object.isFrozen(a[0].timestamp)).toBe(true);
    expect(Object.isFrozen(a)).toBe(false);
    // As upstream's: a message saved without timestamp gets the save time, one Date for both.
    expect(a[0].message.timestamp).toBe(a[0].timestamp);
    // Still a Date to every check users write.
    expect(a[0].timestamp).toBeInstanceOf(Date);
    expect(a[0].timestamp.constructor).toBe(Date);
    expect(Object.prototype.toString.call(a[0].timestamp)).toBe('[object Date]');
    expect(require('node:util').types.isDate(a[0].timestamp)).toBe(true);
    expect(a[0].timestamp).toStrictEqual(new Date(a[0].timestamp.getTime()));
    expect(JSON.stringify(a[0].timestamp)).toBe(JSON.stringify(new Date(a[0].timestamp.getTime())));
  });

  test('a caller Date kept as message.timestamp is a copy both ways', async () => {
    const given = new Date('2021-01-01T00:00:00.000Z');
    await store.saveMessage('s', { type: 'A', timestamp: given });
    given.setTime(5);
    const [a] = await store.getMessages('s');
    expect(a.message.timestamp).not.toBe(given);
    expect(a.message.timestamp.getTime()).toBe(Date.parse('2021-01-01T00:00:00.000Z'));
    expect(a.message.timestamp).not.toBe(a.timestamp);
    expect(() => a.message.timestamp.setTime(1)).toThrow(TypeError);
    const [b] = await store.getMessages('s');
    expect(b.message.timestamp.getTime()).toBe(Date.parse('2021-01-01T00:00:00.000Z'));
  });

  test('stream info, streams, sessions and stats are fresh copies', async () => {
    const id = await store.createSession();
    await store.saveMessage('s', { type: 'A' });
    const info = await store.getStreamInfo('s');
    const infoCopy = { ...info, createdAt: new Date(info.createdAt), lastUpdated: new Date(info.lastUpdated) };
    info.createdAt.setTime(0);
    info.lastUpdated.setTime(0);
    info.revision = 9n;
    info.messageCount = 9;
    expect(await store.getStreamInfo('s')).toEqual(infoCopy);

    const streams = await store.getStreams();
    streams.push('fake');
    streams[0] = 'changed';
    expect(await store.getStreams()).toEqual([`session-${id}`, 's']);

    const sessions = await store.getSessions();
    const sessionCopy = { ...sessions[0], startedAt: new Date(sessions[0].startedAt), lastActivity: new Date(sessions[0].lastActivity) };
    sessions[0].startedAt.setTime(0);
    sessions[0].lastActivity.setTime(0);
    sessions[0].messageCount = 99;
    sessions.push({});
    expect(await store.getSessions()).toEqual([sessionCopy]);
    const one = await store.getSessionInfo(id);
    one.commandCount = 50;
    one.startedAt.setTime(0);
    expect(await store.getSessionInfo(id)).toEqual(sessionCopy);

    const stats = await store.getStats();
    const oldest = stats.oldestMessage.getTime();
    stats.oldestMessage.setTime(0);
    stats.newestMessage.setTime(0);
    stats.totalMessages = 99;
    const again = await store.getStats();
    expect(again.oldestMessage.getTime()).toBe(oldest);
    expect(again.newestMessage.getTime()).toBe(oldest);
    expect(again.totalMessages).toBe(1);
  });

  test('filters are not changed by a query, and changing them later changes nothing', async () => {
    await store.saveMessages('s', [
      { type: 'A', data: { k: { deep: [1] } } },
      { type: 'B', data: { k: 1 } },
    ]);
    const filter: any = { messageNames: ['A', 'B'], jsonFilter: { k: { deep: [1] } } };
    const frozen = JSON.stringify(filter);
    const r = await store.getAllMessages(filter);
    expect(r.map((m: any) => m.message.type)).toEqual(['A']);
    expect(JSON.stringify(filter)).toBe(frozen);
    expect(Object.keys(filter)).toEqual(['messageNames', 'jsonFilter']);
    filter.messageNames.push('C');
    filter.jsonFilter.k.deep.push(2);
    expect(r.map((m: any) => m.message.data)).toEqual([{ k: { deep: [1] } }]);
  });
});
