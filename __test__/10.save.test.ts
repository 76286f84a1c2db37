// docs/behaviour.md#data-model, #writing-creates-stream, #writing-order, #writing-session: what a save stores and how it reads back.

import { POSITIONAL_KEYS, STREAM_INFO_KEYS, tick, viaJson } from './support/helpers';
import { stores } from './support/stores';

describe.each(stores)('$name: saving', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  test('saveMessage and saveMessages resolve to undefined', async () => {
    await expect(store.saveMessage('s', { type: 'A', data: {} })).resolves.toBeUndefined();
    await expect(store.saveMessages('s', [{ type: 'B', data: {} }])).resolves.toBeUndefined();
    await expect(store.saveMessages('s', [])).resolves.toBeUndefined();
  });

  test('the first message gets revision 0n and position 1n, with every field of a positional message', async () => {
    const before = Date.now();
    await store.saveMessage('orders', { type: 'OrderPlaced', data: { id: 1 } });
    const after = Date.now();
    const result = await store.getMessages('orders');
    expect(result).toHaveLength(1);
    const [m] = result;
    expect(Object.keys(m)).toEqual(POSITIONAL_KEYS);
    expect(m.timestamp).toBeInstanceOf(Date);
    expect(m.timestamp.getTime()).toBeGreaterThanOrEqual(before);
    expect(m.timestamp.getTime()).toBeLessThanOrEqual(after);
    expect(m).toStrictEqual({
      streamId: 'orders',
      message: { type: 'OrderPlaced', data: { id: 1 }, timestamp: new Date(m.timestamp.getTime()) },
      messageType: 'event',
      revision: 0n,
      position: 1n,
      timestamp: new Date(m.timestamp.getTime()),
      sessionId: 'no-session',
    });
    expect(typeof m.revision).toBe('bigint');
    expect(typeof m.position).toBe('bigint');
  });

  test('revisions count per stream from 0n; positions count over the whole store from 1n, gapless', async () => {
    await store.saveMessage('a', { type: 'A1' });
    await store.saveMessage('b', { type: 'B1' });
    await store.saveMessages('a', [{ type: 'A2' }, { type: 'A3' }]);
    await store.saveMessages('c', []);
    await store.saveMessage('b', { type: 'B2' });
    await store.saveMessage('c', { type: 'C1' });
    const all = await store.getAllMessages();
    expect(all.map((m: any) => [m.streamId, m.message.type, m.revision, m.position])).toEqual([
      ['a', 'A1', 0n, 1n],
      ['b', 'B1', 0n, 2n],
      ['a', 'A2', 1n, 3n],
      ['a', 'A3', 2n, 4n],
      ['b', 'B2', 1n, 5n],
      ['c', 'C1', 0n, 6n],
    ]);
    expect((await store.getMessages('a')).map((m: any) => m.revision)).toEqual([0n, 1n, 2n]);
  });

  test('a batch takes positions and revisions in array order and shares one save time', async () => {
    await store.saveMessage('s', { type: 'First' });
    await tick();
    await store.saveMessages('s', [{ type: 'X' }, { type: 'Y' }, { type: 'Z' }]);
    const all = await store.getMessages('s');
    expect(all.map((m: any) => [m.message.type, m.revision, m.position])).toEqual([
      ['First', 0n, 1n],
      ['X', 1n, 2n],
      ['Y', 2n, 3n],
      ['Z', 3n, 4n],
    ]);
    const t = all[1].timestamp.getTime();
    expect(all.slice(1).map((m: any) => m.timestamp.getTime())).toEqual([t, t, t]);
    expect(all.slice(1).map((m: any) => m.message.timestamp.getTime())).toEqual([t, t, t]);
    expect(all[0].timestamp.getTime()).toBeLessThan(t);
  });

  test('an empty save creates the stream at revision -1n and uses no position', async () => {
    await store.saveMessages('empty', []);
    expect(await store.getStreams()).toEqual(['empty']);
    expect(await store.getMessages('empty')).toEqual([]);
    const info = await store.getStreamInfo('empty');
    expect(Object.keys(info)).toEqual(STREAM_INFO_KEYS);
    expect(info).toEqual({
      streamId: 'empty',
      revision: -1n,
      messageCount: 0,
      firstPosition: 0n,
      lastPosition: 0n,
      createdAt: expect.any(Date),
      lastUpdated: expect.any(Date),
    });
    const stats = await store.getStats();
    expect([stats.totalMessages, stats.totalStreams]).toEqual([0, 1]);
    await store.saveMessage('other', { type: 'A' });
    const [m] = await store.getMessages('other');
    expect(m.position).toBe(1n);
    await store.saveMessage('empty', { type: 'B' });
    const [e] = await store.getMessages('empty');
    expect([e.revision, e.position]).toEqual([0n, 2n]);
  });

  describe('message.timestamp', () => {
    test('absent: the save time is appended as the last key', async () => {
      await store.saveMessage('s', { data: { a: 1 }, type: 'A', requestId: 'r' });
      const [m] = await store.getMessages('s');
      expect(Object.keys(m.message)).toEqual(['data', 'type', 'requestId', 'timestamp']);
      expect(m.message.timestamp).toBeInstanceOf(Date);
      expect(m.message.timestamp.getTime()).toBe(m.timestamp.getTime());
      // One Date for both, as upstream's `timestamp: message.timestamp || now`; it is immutable.
      expect(m.message.timestamp).toBe(m.timestamp);
    });

    test('present as undefined or null: replaced in place by the save time', async () => {
      await store.saveMessages('s', [
        { timestamp: undefined, type: 'U', data: {} },
        { type: 'N', timestamp: null, data: {} },
      ]);
      const [u, n] = await store.getMessages('s');
      expect(Object.keys(u.message)).toEqual(['timestamp', 'type', 'data']);
      expect(Object.keys(n.message)).toEqual(['type', 'timestamp', 'data']);
      expect(u.message.timestamp).toBeInstanceOf(Date);
      expect(n.message.timestamp).toBeInstanceOf(Date);
      expect(u.message.timestamp.getTime()).toBe(u.timestamp.getTime());
      expect(n.message.timestamp.getTime()).toBe(n.timestamp.getTime());
    });

    test('a valid Date is kept, in its place, read back as an equal new Date; the save time stays separate', async () => {
      const given = new Date('2020-01-02T03:04:05.678Z');
      await store.saveMessage('s', { type: 'A', timestamp: given, data: { x: 1 } });
      const [m] = await store.getMessages('s');
      expect(Object.keys(m.message)).toEqual(['type', 'timestamp', 'data']);
      expect(m.message.timestamp).toBeInstanceOf(Date);
      expect(m.message.timestamp.getTime()).toBe(given.getTime());
      expect(m.message.timestamp).not.toBe(given);
      expect(m.timestamp.getTime()).not.toBe(given.getTime());
      expect(m.timestamp.getTime()).toBeGreaterThan(given.getTime());
    });

    test('a valid Date with its own toJSON is still kept as that Date', async () => {
      const given = Object.assign(new Date('2020-01-02T03:04:05.678Z'), { toJSON: () => 'not a date' });
      await store.saveMessage('s', { type: 'A', timestamp: given });
      const [m] = await store.getMessages('s');
      expect(m.message.timestamp).toBeInstanceOf(Date);
      expect(m.message.timestamp.getTime()).toBe(Date.UTC(2020, 0, 2, 3, 4, 5, 678));
    });

    test.each([
      ['the largest Date', new Date(8.64e15)],
      ['the smallest Date', new Date(-8.64e15)],
      ['the epoch', new Date(0)],
      ['just before the epoch', new Date(-1)],
      ['year 1', new Date('0001-01-01T00:00:00.001Z')],
      ['year -1', new Date('-000001-06-01T00:00:00.000Z')],
      ['year 9999', new Date('9999-12-31T23:59:59.999Z')],
      ['year 10000', new Date('+010000-01-01T00:00:00.000Z')],
    ])('%s round-trips exactly', async (_label, given) => {
      await store.saveMessage('s', { type: 'A', timestamp: given });
      const [m] = await store.getMessages('s');
      expect(m.message.timestamp).toBeInstanceOf(Date);
      expect(m.message.timestamp.getTime()).toBe(given.getTime());
    });
  });

  describe('data and other fields', () => {
    test('every field the caller gave comes back, in the caller key order', async () => {
      const message = {
        correlationId: 'c-1',
        data: { z: 1, a: 2, m: { y: true, b: null } },
        type: 'Placed',
        metadata: { source: 'ui', tags: ['x', 'y'] },
        requestId: 'r-1',
        10: 'numeric-like key',
      };
      await store.saveMessage('s', message);
      const [m] = await store.getMessages('s');
      expect(Object.keys(m.message)).toEqual(['10', 'correlationId', 'data', 'type', 'metadata', 'requestId', 'timestamp']);
      expect(Object.keys(m.message.data)).toEqual(['z', 'a', 'm']);
      expect(Object.keys(m.message.data.m)).toEqual(['y', 'b']);
      expect(m.message).toStrictEqual({ ...message, timestamp: m.timestamp });
    });

    test.each([
      ['absent', undefined],
      ['null', null],
      ['a string', 'text'],
      ['a number', 42],
      ['a boolean', false],
      ['an array', [1, 'two', { three: 3 }, [4]]],
      ['an empty object', {}],
    ])('data %s is kept as JSON keeps it', async (_label, data) => {
      const message: any = { type: 'A' };
      if (data !== undefined) message.data = data;
      await store.saveMessage('s', message);
      const [m] = await store.getMessages('s');
      expect(Object.keys(m.message)).toEqual(data === undefined ? ['type', 'timestamp'] : ['type', 'data', 'timestamp']);
      expect(m.message.data).toStrictEqual(data);
    });

    test('values are stored as JSON.stringify writes them', async () => {
      const data = {
        date: new Date('2021-05-06T07:08:09.010Z'),
        nan: NaN,
        inf: Infinity,
        negInf: -Infinity,
        negZero: -0,
        dropped: undefined,
        inArray: [undefined, NaN, 1],
        withToJSON: { toJSON: () => ({ replaced: true }) },
        nested: { deeper: { deepest: [{ k: 'v' }] } },
      };
      await store.saveMessage('s', { type: 'A', data, extra: undefined });
      const [m] = await store.getMessages('s');
      expect(m.message.data).toStrictEqual(viaJson(data));
      expect(m.message.data).toStrictEqual({
        date: '2021-05-06T07:08:09.010Z',
        nan: null,
        inf: null,
        negInf: null,
        negZero: 0,
        inArray: [null, null, 1],
        withToJSON: { replaced: true },
        nested: { deeper: { deepest: [{ k: 'v' }] } },
      });
      expect(Object.is(m.message.data.negZero, 0)).toBe(true);
      expect('dropped' in m.message.data).toBe(false);
      expect('extra' in m.message).toBe(false);
    });

    test('numbers round-trip to the same double', async () => {
      const numbers = [
        0.1,
        0.1 + 0.2,
        1 / 3,
        -1.5e-7,
        1e21,
        1e-7,
        123456789012345680000,
        Number.MAX_SAFE_INTEGER,
        Number.MAX_SAFE_INTEGER + 2,
        -Number.MAX_SAFE_INTEGER,
        Number.MAX_VALUE,
        Number.MIN_VALUE,
        -Number.MAX_VALUE,
        2 ** -1074,
        5e-324,
        1.7976931348623157e308,
        4.35,
        0,
        1,
        -1,
        100,
      ];
      await store.saveMessage('s', { type: 'A', data: { numbers } });
      const [m] = await store.getMessages('s');
      const back: number[] = m.message.data.numbers;
      expect(back).toHaveLength(numbers.length);
      for (const [i, n] of back.entries()) expect(Object.is(n, numbers[i])).toBe(true);
    });

    test('strings round-trip exactly: control characters, separators, astral characters, lone surrogates', async () => {
      let controls = '';
      for (let c = 0; c < 0x20; c++) controls += String.fromCharCode(c);
      const strings = [
        controls,
        '\u007f\u0080\u00ff',
        '\u2028\u2029',
        '"quoted" \\backslash\\ /slash/',
        '😀 𝄞 astral',
        '\ud800',
        '\udfff',
        'a\ud83dz',
        '\ude00\ud83d',
        '中文 Ελληνικά العربية',
        '\ufeffBOM',
        '',
      ];
      const data = Object.fromEntries(strings.map((s, i) => [`k${i}`, s]));
      await store.saveMessage('s', { type: 'A', data, note: '\ud800 lone' });
      const [m] = await store.getMessages('s');
      expect(m.message.data).toStrictEqual(viaJson(data));
      expect(Object.values(m.message.data)).toEqual(strings);
      expect(m.message.note).toBe('\ud800 lone');
    });

    test('keys with unusual text round-trip, including __proto__ as an own key (no prototype change)', async () => {
      const data = JSON.parse(
        '{"__proto__": {"polluted": 1}, "": "empty key", "😀": "astral key", "\\ud800": "lone", "a\\"b": 1, "constructor": "c"}',
      );
      await store.saveMessage('s', { type: 'A', data });
      const [m] = await store.getMessages('s');
      const back = m.message.data;
      expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
      expect(Object.hasOwn(back, '__proto__')).toBe(true);
      expect(Object.getOwnPropertyDescriptor(back, '__proto__')!.value).toEqual({ polluted: 1 });
      expect(Object.keys(back)).toEqual(['__proto__', '', '😀', '\ud800', 'a"b', 'constructor']);
      expect(back['']).toBe('empty key');
      expect(back['😀']).toBe('astral key');
      expect(back['\ud800']).toBe('lone');
      expect(back['a"b']).toBe(1);
      expect(back.constructor).toBe('c');
      expect(({} as any).polluted).toBeUndefined();
      expect(JSON.stringify(back)).toBe(JSON.stringify(viaJson(data)));
    });

    test('numeric-like keys come back in the order JavaScript gives them', async () => {
      const data = { b: 1, 2: 'two', a: 1, 1: 'one', '-1': 'minus', '01': 'zero-one' };
      await store.saveMessage('s', { type: 'A', data });
      const [m] = await store.getMessages('s');
      expect(Object.keys(m.message.data)).toEqual(Object.keys(viaJson(data)));
      expect(Object.keys(m.message.data)).toEqual(['1', '2', 'b', 'a', '-1', '01']);
    });

    test('a message nested 1000 levels deep (the message itself counted) is stored', async () => {
      const depth = 999;
      const data: any = {};
      let cur = data;
      for (let i = 1; i < depth; i++) cur = cur.x = {};
      cur.leaf = 'bottom';
      await store.saveMessage('s', { type: 'Deep', data });
      const [m] = await store.getMessages('s');
      let back = m.message.data;
      for (let i = 1; i < depth; i++) back = back.x;
      expect(back).toEqual({ leaf: 'bottom' });
    });

    test('a large message round-trips', async () => {
      const data = { text: 'x'.repeat(1_000_000), list: Array.from({ length: 10_000 }, (_, i) => ({ i })) };
      await store.saveMessage('s', { type: 'Big', data });
      const [m] = await store.getMessages('s');
      expect(m.message.data.text).toHaveLength(1_000_000);
      expect(m.message.data.list).toHaveLength(10_000);
      expect(m.message.data.list[9_999]).toEqual({ i: 9_999 });
    });

    test('type may be any string, including the empty string', async () => {
      await store.saveMessages('s', [{ type: '' }, { type: 'with space\nand newline' }, { type: '\ud800' }]);
      expect((await store.getMessages('s')).map((m: any) => m.message.type)).toEqual(['', 'with space\nand newline', '\ud800']);
    });
  });
});
