// docs/behaviour.md#reading-stream-info and #reading-streams: stream names as arbitrary strings.

import { STREAM_INFO_KEYS, tick } from './support/helpers';
import { stores } from './support/stores';

describe.each(stores)('$name: streams', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  test('getStreams: [] on a new store, then names in creation order', async () => {
    expect(await store.getStreams()).toEqual([]);
    await store.saveMessage('b', { type: 'A' });
    await store.saveMessage('a', { type: 'A' });
    await store.saveMessages('c', []);
    await store.saveMessage('b', { type: 'A' });
    await store.saveMessage('a', { type: 'A' });
    await expect(store.saveMessage('d', { type: 'A' }, 0n)).rejects.toHaveProperty(
      'message',
      'Stream d does not exist, but expected revision 0 was provided',
    );
    await expect(store.saveMessage('e', { type: 1 })).rejects.toBeInstanceOf(TypeError);
    await store.getMessages('f');
    await store.getStreamInfo('g');
    await store.saveMessage('c', { type: 'A' });
    expect(await store.getStreams()).toEqual(['b', 'a', 'c']);
  });

  test('getStreamInfo: null for an unknown stream (not undefined)', async () => {
    expect(await store.getStreamInfo('nope')).toBeNull();
    await store.saveMessage('s', { type: 'A' });
    expect(await store.getStreamInfo('S')).toBeNull();
    expect(await store.getStreamInfo('nope')).toBeNull();
  });

  test('getStreamInfo of a stream with messages', async () => {
    const before = Date.now();
    await store.saveMessage('s', { type: 'A' });
    await tick();
    await store.saveMessage('other', { type: 'O' });
    await tick();
    await store.saveMessages('s', [{ type: 'B' }, { type: 'C' }]);
    const after = Date.now();
    const info = await store.getStreamInfo('s');
    const messages = await store.getMessages('s');
    expect(Object.keys(info)).toEqual(STREAM_INFO_KEYS);
    expect(info).toEqual({
      streamId: 's',
      revision: 2n,
      messageCount: 3,
      firstPosition: 1n,
      lastPosition: 4n,
      createdAt: expect.any(Date),
      lastUpdated: new Date(messages[2].timestamp.getTime()),
    });
    expect(info.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(info.createdAt.getTime()).toBeLessThanOrEqual(messages[0].timestamp.getTime());
    expect(info.lastUpdated.getTime()).toBeLessThanOrEqual(after);
    expect(info.lastUpdated.getTime()).toBeGreaterThan(info.createdAt.getTime());
    expect(typeof info.messageCount).toBe('number');
    expect(await store.getStreamInfo('other')).toEqual({
      streamId: 'other',
      revision: 0n,
      messageCount: 1,
      firstPosition: 2n,
      lastPosition: 2n,
      createdAt: expect.any(Date),
      lastUpdated: expect.any(Date),
    });
  });

  test('an empty stream: revision -1n, count 0, positions 0n; createdAt stays when messages arrive', async () => {
    const before = Date.now();
    await store.saveMessages('e', []);
    const empty = await store.getStreamInfo('e');
    expect(empty).toEqual({
      streamId: 'e',
      revision: -1n,
      messageCount: 0,
      firstPosition: 0n,
      lastPosition: 0n,
      createdAt: expect.any(Date),
      lastUpdated: expect.any(Date),
    });
    expect(empty.createdAt.getTime()).toBeGreaterThanOrEqual(before);
    expect(empty.lastUpdated.getTime()).toBeGreaterThanOrEqual(empty.createdAt.getTime());
    await tick(empty.lastUpdated.getTime());
    await store.saveMessages('e', []);
    expect(await store.getStreamInfo('e')).toEqual(empty);
    await store.saveMessage('e', { type: 'A' });
    const full = await store.getStreamInfo('e');
    const [m] = await store.getMessages('e');
    expect(full.createdAt.getTime()).toBe(empty.createdAt.getTime());
    expect(full.lastUpdated.getTime()).toBe(m.timestamp.getTime());
    expect(full.lastUpdated.getTime()).toBeGreaterThan(empty.lastUpdated.getTime());
    expect([full.revision, full.messageCount, full.firstPosition, full.lastPosition]).toEqual([0n, 1, 1n, 1n]);
  });

  test('a rejected save does not move lastUpdated', async () => {
    await store.saveMessage('s', { type: 'A' });
    const info = await store.getStreamInfo('s');
    await tick(info.lastUpdated.getTime());
    await expect(store.saveMessage('s', { type: 'B' }, 5n)).rejects.toHaveProperty(
      'message',
      'Expected revision 5 but stream is at revision 0',
    );
    await expect(store.saveMessage('s', { type: 'B', data: 1n })).rejects.toBeInstanceOf(TypeError);
    expect(await store.getStreamInfo('s')).toEqual(info);
  });

  test('stream names are any string: quotes, backslashes, newlines, lone surrogates, unicode, empty', async () => {
    const names = [
      '',
      ' ',
      'a "quoted" name',
      "it's",
      'back\\slash',
      'new\nline\r\ttab',
      '\u0000nul',
      '\ud800',
      '\udfff',
      'a\ud83d',
      '😀',
      '中文',
      'ünïcödé',
      'null',
      'undefined',
      '{"json":true}',
      '__proto__',
      'constructor',
      'session-not-a-session',
      'x'.repeat(10_000),
    ];
    for (const n of names) await store.saveMessage(n, { type: 'T', data: { n } });
    expect(await store.getStreams()).toEqual(names);
    for (const [i, n] of names.entries()) {
      const info = await store.getStreamInfo(n);
      expect([info.streamId, info.revision, info.messageCount, info.firstPosition]).toEqual([n, 0n, 1, BigInt(i + 1)]);
      const [m] = await store.getMessages(n);
      expect([m.streamId, m.message.data.n]).toEqual([n, n]);
      const viaFilter = await store.getAllMessages({ streamId: n });
      expect(viaFilter.map((x: any) => x.streamId)).toEqual(n === '' ? names : [n]);
    }
    await expect(store.saveMessage('\ud800', { type: 'T' }, 0n)).resolves.toBeUndefined();
    await expect(store.saveMessage('\ud800', { type: 'T' }, 0n)).rejects.toHaveProperty(
      'message',
      'Expected revision 0 but stream is at revision 1',
    );
    expect((await store.getStreamInfo('\ud800')).revision).toBe(1n);
    expect((await store.getStreamInfo('\udfff')).revision).toBe(0n);
  });

  test('stream names that differ only by normalization are distinct', async () => {
    await store.saveMessage('\u00e9', { type: 'Composed' });
    await store.saveMessage('e\u0301', { type: 'Decomposed' });
    expect(await store.getStreams()).toEqual(['\u00e9', 'e\u0301']);
    expect((await store.getMessages('e\u0301')).map((m: any) => m.message.type)).toEqual(['Decomposed']);
  });
});
