// docs/behaviour.md#sessions and #writing-session.

import { SESSION_ID, SESSION_KEYS, STREAM_INFO_KEYS, tick } from './support/helpers';
import { stores } from './support/stores';

describe.each(stores)('$name: sessions', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });
  const types = (list: any[]) => list.map((m) => m.message.type);

  test('createSession resolves to session-<epoch ms>-<8 chars>, unique per call', async () => {
    const before = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await store.createSession());
    const after = Date.now();
    for (const id of ids) {
      expect(typeof id).toBe('string');
      expect(id).toMatch(SESSION_ID);
      const ms = Number(id.split('-')[1]);
      expect(ms).toBeGreaterThanOrEqual(before);
      expect(ms).toBeLessThanOrEqual(after);
    }
    expect(new Set(ids).size).toBe(20);
  });

  test('a new session is recorded with zero counters and its times', async () => {
    const before = Date.now();
    const id = await store.createSession();
    const after = Date.now();
    const info = await store.getSessionInfo(id);
    expect(Object.keys(info)).toEqual(SESSION_KEYS);
    expect(info).toEqual({
      sessionId: id,
      startedAt: expect.any(Date),
      messageCount: 0,
      commandCount: 0,
      eventCount: 0,
      lastActivity: expect.any(Date),
    });
    expect(info.startedAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(info.startedAt.getTime()).toBeLessThanOrEqual(after);
    expect(info.lastActivity.getTime()).toBeGreaterThanOrEqual(info.startedAt.getTime());
    expect(info.lastActivity.getTime()).toBeLessThanOrEqual(after);
    expect(await store.getSessions()).toEqual([info]);
  });

  test('createSession creates the empty stream session-<id>, seen by getStreams, getStreamInfo and totalStreams', async () => {
    await store.saveMessage('first', { type: 'A' });
    const id = await store.createSession();
    await store.saveMessage('second', { type: 'B' });
    expect(await store.getStreams()).toEqual(['first', `session-${id}`, 'second']);
    expect(`session-${id}`).toMatch(/^session-session-\d+-[A-Za-z0-9_-]{8}$/);
    const info = await store.getStreamInfo(`session-${id}`);
    expect(Object.keys(info)).toEqual(STREAM_INFO_KEYS);
    expect(info).toEqual({
      streamId: `session-${id}`,
      revision: -1n,
      messageCount: 0,
      firstPosition: 0n,
      lastPosition: 0n,
      createdAt: expect.any(Date),
      lastUpdated: expect.any(Date),
    });
    expect(await store.getMessages(`session-${id}`)).toEqual([]);
    const stats = await store.getStats();
    expect([stats.totalStreams, stats.totalSessions, stats.totalMessages]).toEqual([3, 1, 2]);
    expect(await store.getStreamInfo(id)).toBeNull();
  });

  test('saves in the current session are stamped with its id and counted; the session stream stays empty', async () => {
    await store.saveMessage('before', { type: 'Before' });
    const id = await store.createSession();
    await tick();
    await store.saveMessage('user-commands', { type: 'C1' });
    await store.saveMessages('user-events', [{ type: 'E1' }, { type: 'E2' }]);
    await store.saveMessage('plain', { type: 'C2', requestId: 'r' });
    await store.saveMessage('plain', { type: 'E3' }, undefined, 'event');
    const all = await store.getAllMessages();
    expect(all.map((m: any) => [m.message.type, m.sessionId])).toEqual([
      ['Before', 'no-session'],
      ['C1', id],
      ['E1', id],
      ['E2', id],
      ['C2', id],
      ['E3', id],
    ]);
    const info = await store.getSessionInfo(id);
    expect([info.messageCount, info.commandCount, info.eventCount]).toEqual([5, 2, 3]);
    expect(info.lastActivity.getTime()).toBe(all[5].timestamp.getTime());
    expect(info.lastActivity.getTime()).toBeGreaterThan(info.startedAt.getTime());
    const sessionStream = await store.getStreamInfo(`session-${id}`);
    expect([sessionStream.revision, sessionStream.messageCount]).toEqual([-1n, 0]);
    expect(await store.getMessages(`session-${id}`)).toEqual([]);
    expect((await store.getStats()).totalMessages).toBe(6);
  });

  test('an empty save in a session changes no counter', async () => {
    const id = await store.createSession();
    const before = await store.getSessionInfo(id);
    await tick(before.lastActivity.getTime());
    await store.saveMessages('s', []);
    expect(await store.getSessionInfo(id)).toEqual(before);
  });

  test('a new session replaces the current one', async () => {
    const first = await store.createSession();
    await store.saveMessage('s', { type: 'InFirst' });
    const second = await store.createSession();
    await store.saveMessage('s', { type: 'InSecond' });
    expect((await store.getMessages('s')).map((m: any) => m.sessionId)).toEqual([first, second]);
    expect((await store.getSessionInfo(first)).messageCount).toBe(1);
    expect((await store.getSessionInfo(second)).messageCount).toBe(1);
    expect((await store.getSessions()).map((s: any) => s.sessionId)).toEqual([first, second]);
  });

  test('endSession of the current session: sets lastActivity to now and clears the current session', async () => {
    const id = await store.createSession();
    await store.saveMessage('s', { type: 'In' });
    const during = await store.getSessionInfo(id);
    await tick(during.lastActivity.getTime());
    const before = Date.now();
    await expect(store.endSession(id)).resolves.toBeUndefined();
    const after = Date.now();
    const ended = await store.getSessionInfo(id);
    expect(ended.lastActivity.getTime()).toBeGreaterThanOrEqual(before);
    expect(ended.lastActivity.getTime()).toBeLessThanOrEqual(after);
    expect({ ...ended, lastActivity: during.lastActivity }).toEqual(during);
    await store.saveMessage('s', { type: 'Out' });
    expect((await store.getMessages('s')).map((m: any) => m.sessionId)).toEqual([id, 'no-session']);
    expect(await store.getSessionInfo(id)).toEqual(ended);
    expect(await store.getSessions()).toEqual([ended]);
  });

  test('endSession of another session leaves the current one current', async () => {
    const first = await store.createSession();
    const second = await store.createSession();
    const firstBefore = await store.getSessionInfo(first);
    await tick(firstBefore.lastActivity.getTime());
    await store.endSession(first);
    const firstAfter = await store.getSessionInfo(first);
    expect(firstAfter.lastActivity.getTime()).toBeGreaterThan(firstBefore.lastActivity.getTime());
    await store.saveMessage('s', { type: 'A' });
    expect((await store.getMessages('s'))[0].sessionId).toBe(second);
    expect((await store.getSessionInfo(first)).messageCount).toBe(0);
  });

  test('endSession of an unknown id (or twice) is not an error and changes nothing else', async () => {
    const id = await store.createSession();
    const sessions = await store.getSessions();
    await expect(store.endSession('session-unknown')).resolves.toBeUndefined();
    await expect(store.endSession('')).resolves.toBeUndefined();
    expect(await store.getSessions()).toEqual(sessions);
    await store.saveMessage('s', { type: 'StillIn' });
    expect((await store.getMessages('s'))[0].sessionId).toBe(id);
    await store.endSession(id);
    await expect(store.endSession(id)).resolves.toBeUndefined();
    expect(await store.getSessions()).toHaveLength(1);
    expect(await store.getStreams()).toEqual([`session-${id}`, 's']);
  });

  test('getSessionInfo of an unknown id is null; getSessions is [] on a new store', async () => {
    expect(await store.getSessions()).toEqual([]);
    expect(await store.getSessionInfo('session-1-abcdefgh')).toBeNull();
    expect(await store.getSessionInfo('')).toBeNull();
    expect(await store.getSessionInfo('no-session')).toBeNull();
    const id = await store.createSession();
    expect(await store.getSessionInfo(`session-${id}`)).toBeNull();
    expect(await store.getSessionInfo(id.toUpperCase())).toBeNull();
  });

  test('getSessions lists sessions in creation order', async () => {
    const ids = [await store.createSession(), await store.createSession(), await store.createSession()];
    await store.endSession(ids[0]);
    const sessions = await store.getSessions();
    expect(sessions.map((s: any) => s.sessionId)).toEqual(ids);
    for (const s of sessions) expect(Object.keys(s)).toEqual(SESSION_KEYS);
  });

  describe('getSessionMessages', () => {
    let s1: string;
    let s2: string;
    // positions: 1 a None1 no-session; 2 a-commands S1C, 3 b S1E, 4 c S1E2, 5 c S1E3 (s1);
    // 6 a-commands S2C (s2); 7 b None2 no-session.
    beforeEach(async () => {
      await store.saveMessage('a', { type: 'None1' });
      s1 = await store.createSession();
      await store.saveMessage('a-commands', { type: 'S1C', requestId: 'r', data: { k: 1 } });
      await store.saveMessage('b', { type: 'S1E', data: { k: 2 } });
      await store.saveMessages('c', [
        { type: 'S1E2', data: { k: 1 } },
        { type: 'S1E3', correlationId: 'x' },
      ]);
      s2 = await store.createSession();
      await store.saveMessage('a-commands', { type: 'S2C' });
      await store.endSession(s2);
      await store.saveMessage('b', { type: 'None2' });
    });

    test('returns the messages stamped with the session id, in position order', async () => {
      const list = await store.getSessionMessages(s1);
      expect(list.map((m: any) => [m.streamId, m.message.type, m.position, m.sessionId])).toEqual([
        ['a-commands', 'S1C', 2n, s1],
        ['b', 'S1E', 3n, s1],
        ['c', 'S1E2', 4n, s1],
        ['c', 'S1E3', 5n, s1],
      ]);
      expect(types(await store.getSessionMessages(s2))).toEqual(['S2C']);
    });

    test('unknown id and the empty id give []', async () => {
      expect(await store.getSessionMessages('session-unknown')).toEqual([]);
      expect(await store.getSessionMessages('')).toEqual([]);
      expect(await store.getSessionMessages('', {}, 5)).toEqual([]);
      expect(await store.getSessionMessages(`session-${s1}`)).toEqual([]);
    });

    test("'no-session' gives the messages stamped 'no-session'", async () => {
      expect(types(await store.getSessionMessages('no-session'))).toEqual(['None1', 'None2']);
    });

    test('the filter applies, and its sessionId is replaced by the argument', async () => {
      expect(types(await store.getSessionMessages(s1, { messageType: 'event' }))).toEqual(['S1E', 'S1E2', 'S1E3']);
      expect(types(await store.getSessionMessages(s1, { messageType: 'command' }))).toEqual(['S1C']);
      expect(types(await store.getSessionMessages(s1, { streamId: 'c' }))).toEqual(['S1E2', 'S1E3']);
      expect(types(await store.getSessionMessages(s1, { jsonFilter: { k: 1 } }))).toEqual(['S1C', 'S1E2']);
      expect(types(await store.getSessionMessages(s1, { correlationId: 'x' }))).toEqual(['S1E3']);
      expect(types(await store.getSessionMessages(s1, { fromPosition: 3n, toPosition: 4n }))).toEqual(['S1E', 'S1E2']);
      expect(types(await store.getSessionMessages(s1, { sessionId: s2 }))).toEqual(['S1C', 'S1E', 'S1E2', 'S1E3']);
      expect(types(await store.getSessionMessages(s1, { sessionId: 'no-session' }))).toEqual(['S1C', 'S1E', 'S1E2', 'S1E3']);
      expect(types(await store.getSessionMessages(s1, null))).toEqual(['S1C', 'S1E', 'S1E2', 'S1E3']);
      expect(await store.getSessionMessages(s2, { messageType: 'event' })).toEqual([]);
    });

    test('count keeps the last N after the filter', async () => {
      expect(types(await store.getSessionMessages(s1, undefined, 2))).toEqual(['S1E2', 'S1E3']);
      expect(types(await store.getSessionMessages(s1, { jsonFilter: { k: 1 } }, 1))).toEqual(['S1E2']);
      expect(types(await store.getSessionMessages(s1, { messageType: 'command' }, 1))).toEqual(['S1C']);
      expect(types(await store.getSessionMessages(s1, {}, 0))).toEqual(['S1C', 'S1E', 'S1E2', 'S1E3']);
    });

    test('messages are whole positional messages', async () => {
      const [m] = await store.getSessionMessages(s2);
      expect(m).toEqual({
        streamId: 'a-commands',
        message: { type: 'S2C', timestamp: expect.any(Date) },
        messageType: 'command',
        revision: 1n,
        position: 6n,
        timestamp: expect.any(Date),
        sessionId: s2,
      });
    });
  });
});
