// SPEC "Writing" 8: the store keeps its own copy; every returned object is fresh.
import { stores } from './support/stores';

describe.each(stores)('$name: copies', ({ create }) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
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

  test('changing a returned message, its data, its Dates or the array changes no later read', async () => {
    await store.saveMessage('s', { type: 'A', data: { n: 1, list: [1, 2] }, requestId: 'r' });
    const first = await store.getMessages('s');
    const m = first[0];
    const saveTime = m.timestamp.getTime();
    m.message.data.n = 2;
    m.message.data.list.push(3);
    m.message.type = 'X';
    m.message.timestamp.setTime(0);
    m.timestamp.setTime(0);
    m.revision = 5n;
    m.position = 5n;
    m.streamId = 'other';
    m.sessionId = 'other';
    m.messageType = 'command';
    first.push({ fake: true });
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
    const viaAll = await store.getAllMessages();
    expect(viaAll[0].message.data).toEqual({ n: 1, list: [1, 2] });
  });

  test('each read returns new objects; the two timestamps of one message are distinct Dates', async () => {
    await store.saveMessage('s', { type: 'A', data: { x: {} } });
    const [a] = await store.getMessages('s');
    const [b] = await store.getMessages('s');
    const [c] = await store.getAllMessages();
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
    expect(a.message).not.toBe(b.message);
    expect(a.message.data).not.toBe(c.message.data);
    expect(a.message.data.x).not.toBe(b.message.data.x);
    expect(a.timestamp).not.toBe(b.timestamp);
    expect(a.message.timestamp).not.toBe(a.timestamp);
  });

  test('a caller Date kept as message.timestamp is a copy both ways', async () => {
    const given = new Date('2021-01-01T00:00:00.000Z');
    await store.saveMessage('s', { type: 'A', timestamp: given });
    const [a] = await store.getMessages('s');
    expect(a.message.timestamp).not.toBe(given);
    a.message.timestamp.setTime(1);
    const [b] = await store.getMessages('s');
    expect(b.message.timestamp.getTime()).toBe(given.getTime());
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
