// Hostile values. Very large messages and batches, every kind of
// character and number, hostile keys, and no prototype pollution. What a read gives
// back must be exactly what `JSON.parse(JSON.stringify(x))` gives: same values, same
// key order, same spelling.
import type { MemoryMessageStore } from '@auto-engineer/message-store';
import { expectRejectedAndUnchanged, viaJson } from './support/helpers';
import { stores } from './support/stores';

type Read = Awaited<ReturnType<MemoryMessageStore['getAllMessages']>>;

/** The serving shape of getMessagesJson / getAllMessagesJson, from an object read. */
const serving = (messages: Read) =>
  JSON.stringify(messages.map((m) => ({ ...m, revision: m.revision.toString(), position: m.position.toString() })));

/** What a read must give for `message`: its JSON round trip, with the save time as the last key. */
const expectedMessage = (message: unknown, savedAt: Date) => Object.assign(viaJson(message), { timestamp: savedAt });

/** Value, key order and spelling equal (toStrictEqual sees -0; the text sees key order). */
function expectExactly(actual: unknown, expected: unknown) {
  expect(actual).toStrictEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

/** First index where two long arrays differ, or -1 (a readable failure for 100,000 items). */
function firstDifference<T>(a: readonly T[], b: readonly T[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

const positions = (read: Read) => read.map((m) => m.position);

// ---------------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------------

const cp = (...points: number[]) => String.fromCodePoint(...points);

/** One string per Unicode plane 0..16: its first, a middle and its last code point. */
const PLANES = Array.from({ length: 17 }, (_, p) => {
  const base = p * 0x10000;
  if (p === 0) return cp(0x0000, 0x0041, 0x007f, 0x0080, 0x00ff, 0x0100, 0x07ff, 0x0800, 0xd7ff, 0xe000, 0xfffd, 0xfffe, 0xffff);
  return cp(base, base + 0x1234, base + 0xfffd, base + 0xfffe, base + 0xffff);
});

const STRINGS: string[] = [
  ...PLANES,
  PLANES.join(''),
  cp(0x10ffff),
  '\u{10FFFF}\u{10FFFE}',
  // Astral emoji and friends.
  '😀',
  '👨‍👩‍👧‍👦',
  '🇫🇷🇯🇵',
  '👍🏽',
  '𝕏𝔸𝕄',
  '𠜎𠜱',
  '\u{E0001}\u{E0041}',
  '\u{F0000}',
  // Lone and misordered surrogates.
  '\ud800',
  '\udfff',
  '\udbff',
  '\udc00',
  '\udc00\ud800',
  '\ude00\ud83d',
  'a\ud800b',
  '\ud800\ud800',
  'x\ud83d',
  '\ude00x',
  '\ud83d\ude00\ud83d',
  '\udfff\udfff\udbff',
  // Control characters, separators and invisible ones.
  Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join(''),
  '\u0000',
  'a\u0000b',
  '\u007f',
  '\u0085',
  '\u2028\u2029',
  '\ufeff',
  '\u200b\u200d',
  '\b\f\n\r\t',
  // What JSON escapes, and text that looks like an escape.
  '"',
  '\\',
  '/',
  '\\u0041',
  '\\"',
  '\\ud800',
  '"\\"\\\\"',
  '</script>',
  "'",
  // Look-alikes that must stay distinct (no normalization, no replacement).
  '\ufffd',
  'e\u0301',
  '\u00e9',
  'ab',
  'A',
  ' ',
  'x'.repeat(1000),
  '',
];

describe.each(stores)('$name', ({ create }) => {
  test('the hostile strings are all distinct and free of the words that decide a message type', () => {
    expect(new Set(STRINGS).size).toBe(STRINGS.length);
    for (const s of STRINGS) expect(/command|event/.test(s)).toBe(false);
  });

  describe('strings from every plane, lone surrogates and control characters', () => {
    let store: MemoryMessageStore;
    const saved: Array<{ s: string; message: Record<string, unknown>; savedAt: Date }> = [];

    beforeAll(async () => {
      store = create();
      // Each string as stream id, type, correlationId, requestId, a data value and a data key.
      for (const s of STRINGS) {
        const message = { type: s, data: { v: s, [`k${s}`]: s, list: [s, s] }, correlationId: s, requestId: s, other: s };
        await store.saveMessage(s, message);
        const [read] = await store.getMessages(s);
        saved.push({ s, message, savedAt: read.timestamp });
      }
    });

    test('each comes back exactly, in data, type, ids and stream id', async () => {
      for (const [i, { s, message, savedAt }] of saved.entries()) {
        const read = await store.getMessages(s);
        expect(read).toHaveLength(1);
        const [m] = read;
        expect(m.streamId).toBe(s);
        expect(m.position).toBe(BigInt(i + 1));
        expect(m.revision).toBe(0n);
        // requestId non-empty makes it a command; '' does not.
        expect(m.messageType).toBe(s === '' ? 'event' : 'command');
        expectExactly(m.message, expectedMessage(message, savedAt));
        expect((m.message as any).data.v).toBe(s);
        expect(Object.keys((m.message as any).data)).toEqual(['v', `k${s}`, 'list']);
      }
    });

    test('getStreams lists them in creation order, and getStreamInfo knows each', async () => {
      expect(await store.getStreams()).toEqual(STRINGS);
      for (const [i, s] of STRINGS.entries()) {
        const info = await store.getStreamInfo(s);
        expect(info).not.toBeNull();
        expect([info!.streamId, info!.revision, info!.messageCount, info!.firstPosition, info!.lastPosition]).toEqual([
          s,
          0n,
          1,
          BigInt(i + 1),
          BigInt(i + 1),
        ]);
      }
    });

    test('each is a filter value that matches exactly its own message', async () => {
      const all = STRINGS.map((_, i) => BigInt(i + 1));
      for (const [i, s] of STRINGS.entries()) {
        const own = [BigInt(i + 1)];
        // '' means "no filter" for the id fields, as upstream's truthiness test does.
        const ids = s === '' ? all : own;
        const checks: Array<[string, unknown, bigint[]]> = [
          ['streamId', { streamId: s }, ids],
          ['correlationId', { correlationId: s }, ids],
          ['requestId', { requestId: s }, ids],
          ['messageNames', { messageNames: [s] }, own],
          ['jsonFilter value', { jsonFilter: { v: s } }, own],
          ['jsonFilter key and value', { jsonFilter: { [`k${s}`]: s } }, own],
          ['jsonFilter other key', { jsonFilter: { other: s } }, []],
          ['everything at once', { streamId: s, correlationId: s, requestId: s, messageNames: [s], jsonFilter: { v: s } }, own],
        ];
        for (const [label, filter, expected] of checks) {
          const got = positions(await store.getAllMessages(filter as any));
          expect({ s: JSON.stringify(s), label, got }).toEqual({ s: JSON.stringify(s), label, got: expected });
        }
      }
    });

    test('getMessagesJson / getAllMessagesJson give exactly JSON.stringify of the reads', async () => {
      for (const { s } of saved) {
        expect(await store.getMessagesJson(s)).toBe(serving(await store.getMessages(s)));
        expect(await store.getAllMessagesJson({ messageNames: [s] })).toBe(serving(await store.getAllMessages({ messageNames: [s] })));
      }
      const text = await store.getAllMessagesJson();
      expect(text).toBe(serving(await store.getAllMessages()));
      expect(JSON.parse(text).map((m: any) => m.streamId)).toEqual(STRINGS);
    });

    test('getAllMessages returns them all, in order, exactly', async () => {
      const all = await store.getAllMessages();
      expect(all.map((m) => m.streamId)).toEqual(STRINGS);
      for (const [i, m] of all.entries()) expectExactly(m.message, expectedMessage(saved[i].message, saved[i].savedAt));
    });
  });

  test('the message type comes from the characters of the stream id, not from its escaped form', async () => {
    const store = create();
    // [streamId, requestId, expected]: 'command' / 'event' in the name decide first.
    const cases: Array<[string, string | undefined, 'command' | 'event']> = [
      ['\u001command', undefined, 'event'], // U+001C then "ommand": no "command" in it
      ['\\u0063ommand', undefined, 'event'], // a backslash, "u0063ommand"
      ['\u0000command', undefined, 'command'],
      ['\ud800command', undefined, 'command'],
      ['comm\u0061nd', undefined, 'command'],
      ['\u001event', 'r-1', 'command'], // U+001E then "vent": the requestId decides
      ['\ud83devent', 'r-1', 'event'],
      ['😀event', 'r-1', 'event'],
      ['Command', undefined, 'event'],
    ];
    for (const [streamId, requestId] of cases) {
      await store.saveMessage(streamId, requestId === undefined ? { type: 'X' } : { type: 'X', requestId });
    }
    const got = (await store.getAllMessages()).map((m) => [m.streamId, m.messageType]);
    expect(got).toEqual(cases.map(([s, , t]) => [s, t]));
  });

  // ---------------------------------------------------------------------------------
  // Numbers
  // ---------------------------------------------------------------------------------

  const NUMBERS: Record<string, unknown> = {
    negativeZero: -0,
    above2to53: 2 ** 53 + 2,
    // biome-ignore lint/correctness/noPrecisionLoss: the rounding is what the test is about
    notSafe: 9007199254740993, // the literal rounds to 2^53
    twoTo64: 2 ** 64,
    e308: 1e308,
    maxValue: Number.MAX_VALUE,
    minValue: Number.MIN_VALUE,
    smallNegative: -1e-7,
    tiny: 1.5e-300,
    sum: 0.1 + 0.2,
    e21: 1e21,
    belowE21: 999999999999999900000,
    maxSafe: Number.MAX_SAFE_INTEGER,
    minSafe: Number.MIN_SAFE_INTEGER,
    negativeBig: -(2 ** 70),
    nan: NaN,
    infinity: Infinity,
    negativeInfinity: -Infinity,
    inArray: [-0, 2 ** 60, 1e308, -1e-7, NaN, Infinity, undefined],
    boxed: [new Number(-0), new Number(1e308), new String('s'), new Boolean(false)],
    date: new Date(Date.UTC(2024, 1, 29, 12, 0, 0, 7)),
    undefinedValue: undefined,
    withToJSON: { toJSON: () => ({ replaced: -0 }) },
  };

  test('numbers round trip as JSON gives them: -0 becomes 0, huge and tiny numbers keep their value', async () => {
    const store = create();
    const message = { type: 'Numbers', data: NUMBERS, top: -0, big: 2 ** 64, correlationId: 'n' };
    await store.saveMessage('numbers', message);
    await store.saveMessages('numbers', [message, { type: 'Bare', data: -0 }, { type: 'Bare', data: 1e308 }]);
    const read = await store.getMessages('numbers');
    expectExactly(read[0].message, expectedMessage(message, read[0].timestamp));
    expectExactly(read[1].message, expectedMessage(message, read[1].timestamp));
    const data = read[0].message.data as any;
    expect(Object.is(data.negativeZero, 0)).toBe(true);
    expect(Object.is((read[0].message as any).top, 0)).toBe(true);
    expect(data.above2to53).toBe(9007199254740994);
    expect(data.notSafe).toBe(9007199254740992);
    // biome-ignore lint/correctness/noPrecisionLoss: 2^64 is exact as a double; the literal is what JSON.parse gives
    expect(data.twoTo64).toBe(18446744073709551616);
    expect(data.e308).toBe(1e308);
    expect(data.maxValue).toBe(Number.MAX_VALUE);
    expect(data.minValue).toBe(5e-324);
    expect(data.smallNegative).toBe(-1e-7);
    expect(data.sum).toBe(0.30000000000000004);
    expect([data.nan, data.infinity, data.negativeInfinity]).toEqual([null, null, null]);
    expect(data.inArray).toStrictEqual([0, 2 ** 60, 1e308, -1e-7, null, null, null]);
    expect(Object.is(data.inArray[0], 0)).toBe(true);
    expect(data.boxed).toStrictEqual([0, 1e308, 's', false]);
    expect(data.date).toBe('2024-02-29T12:00:00.007Z');
    expect('undefinedValue' in data).toBe(false);
    expect(data.withToJSON).toStrictEqual({ replaced: 0 });
    expect(Object.is(read[2].message.data, 0)).toBe(true);
    expect(read[3].message.data).toBe(1e308);
    expect(await store.getMessagesJson('numbers')).toBe(serving(read));
    expect(JSON.parse(await store.getMessagesJson('numbers'))[0].message.data.twoTo64).toBe(2 ** 64);
  });

  test('numbers as jsonFilter values match the numbers JSON would store, whatever their spelling', async () => {
    const store = create();
    const values = [-0, 0, 2 ** 53 + 2, 2 ** 64, 1e308, -1e-7, 5e-324, 0.1 + 0.2, 1e21, 1e-7, 123e-20];
    for (const n of values) await store.saveMessage('n', { type: 'N', data: { n } });
    // -0 and 0 are one JSON number (and -0 === 0 upstream): both match both.
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 0 } }))).toEqual([1n, 2n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: -0 } }))).toEqual([1n, 2n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 9007199254740994 } }))).toEqual([3n]);
    // biome-ignore lint/correctness/noPrecisionLoss: 2^64 is exact as a double; the literal is what JSON.parse gives
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 18446744073709551616 } }))).toEqual([4n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 1e308 } }))).toEqual([5n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: -0.0000001 } }))).toEqual([6n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: Number.MIN_VALUE } }))).toEqual([7n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 0.30000000000000004 } }))).toEqual([8n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 1000000000000000000000 } }))).toEqual([9n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 0.0000001 } }))).toEqual([10n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 1.23e-18 } }))).toEqual([11n]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 2 ** 53 } }))).toEqual([]);
    expect(positions(await store.getAllMessages({ jsonFilter: { n: 1e307 } }))).toEqual([]);
  });

  // ---------------------------------------------------------------------------------
  // Keys
  // ---------------------------------------------------------------------------------

  const KEYS_TEXT =
    '{"b":1,"10":2,"2":3,"1":4,"-1":5,"01":6,"1.5":7,"4294967294":8,"4294967295":9,"9007199254740993":10,"":11,' +
    '"__proto__":{"x":1},"constructor":"c","prototype":"p","toString":"t","hasOwnProperty":"h","valueOf":"v",' +
    '"toJSON":"j","a":12,"0":13," 3":14,"3 ":15,"1e3":16,"-0":17,"\\ud800":18,"😀":19}';
  // The order JSON.parse gives: integer-like keys ascending, then the rest as written.
  const KEYS_ORDER = [
    '0',
    '1',
    '2',
    '10',
    '4294967294',
    'b',
    '-1',
    '01',
    '1.5',
    '4294967295',
    '9007199254740993',
    '',
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'toJSON',
    'a',
    ' 3',
    '3 ',
    '1e3',
    '-0',
    '\ud800',
    '😀',
  ];

  test('hostile and numeric-like keys keep their values and the key order JSON.parse gives', async () => {
    const store = create();
    const keyed = JSON.parse(KEYS_TEXT);
    expect(Object.keys(keyed)).toEqual(KEYS_ORDER);
    const data = { ...JSON.parse(KEYS_TEXT), nested: JSON.parse(KEYS_TEXT), list: [JSON.parse(KEYS_TEXT), {}] };
    const message = JSON.parse(
      '{"type":"Keys","10":1,"2":2,"constructor":"c","toString":"t","hasOwnProperty":"h","valueOf":"v","":"e","requestId":"r"}',
    );
    message.data = data;
    await store.saveMessage('keys', message);
    await store.saveMessages('keys', [message]);
    const read = await store.getMessages('keys');
    for (const m of read) {
      expectExactly(m.message, expectedMessage(message, m.timestamp));
      expect(Object.keys(m.message)).toEqual([
        '2',
        '10',
        'type',
        'constructor',
        'toString',
        'hasOwnProperty',
        'valueOf',
        '',
        'requestId',
        'data',
        'timestamp',
      ]);
      const d = m.message.data as any;
      expect(Object.keys(d)).toEqual([...KEYS_ORDER, 'nested', 'list']);
      expect(Object.keys(d.nested)).toEqual(KEYS_ORDER);
      expect(Object.keys(d.list[0])).toEqual(KEYS_ORDER);
      expect([d.constructor, d.prototype, d.toString, d.hasOwnProperty, d.valueOf, d.toJSON, d[''], d['4294967295']]).toEqual([
        'c',
        'p',
        't',
        'h',
        'v',
        'j',
        11,
        9,
      ]);
      expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    }
    expect(await store.getMessagesJson('keys')).toBe(serving(read));
    // The same keys in jsonFilter.
    expect(
      positions(
        await store.getAllMessages({
          jsonFilter: { constructor: 'c', toString: 't', hasOwnProperty: 'h', '': 11, '4294967295': 9, '-0': 17 },
        }),
      ),
    ).toEqual([1n, 2n]);
    // An object value: upstream's === never matches it; ours may compare deeply.
    expect([[], [1n, 2n]]).toContainEqual(positions(await store.getAllMessages({ jsonFilter: JSON.parse('{"__proto__":{"x":1}}') })));
    expect(positions(await store.getAllMessages({ jsonFilter: { constructor: 'x' } }))).toEqual([]);
  });

  test('names that are Object.prototype keys are not found in an empty store, and work as names', async () => {
    const store = create();
    const names = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'length', '0'];
    for (const n of names) {
      expect(await store.getStreamInfo(n)).toBeNull();
      expect(await store.getMessages(n)).toEqual([]);
      expect(await store.getMessagesJson(n)).toBe('[]');
      expect(await store.getSessionInfo(n)).toBeNull();
      expect(await store.getSessionMessages(n)).toEqual([]);
      expect(await store.getAllMessages({ streamId: n })).toEqual([]);
      expect(await store.getAllMessages({ messageNames: [n] })).toEqual([]);
      expect(await store.getAllMessages({ correlationId: n })).toEqual([]);
    }
    expect(await store.getStreams()).toEqual([]);
    for (const n of names) await store.saveMessage(n, { type: n, correlationId: n, requestId: n, data: { [n]: n } });
    expect(await store.getStreams()).toEqual(names);
    for (const [i, n] of names.entries()) {
      const p = [BigInt(i + 1)];
      expect((await store.getStreamInfo(n))!.messageCount).toBe(1);
      expect(positions(await store.getMessages(n))).toEqual(p);
      expect(positions(await store.getAllMessages({ streamId: n }))).toEqual(p);
      expect(positions(await store.getAllMessages({ messageNames: [n] }))).toEqual(p);
      expect(positions(await store.getAllMessages({ correlationId: n }))).toEqual(p);
      expect(positions(await store.getAllMessages({ requestId: n }))).toEqual(p);
      expect(positions(await store.getAllMessages({ jsonFilter: { [n]: n } }))).toEqual(p);
    }
    expect((await store.getStats()).totalStreams).toBe(names.length);
  });

  // ---------------------------------------------------------------------------------
  // Prototype pollution
  // ---------------------------------------------------------------------------------

  describe('no prototype pollution', () => {
    const poison = '{"__proto__":{"polluted":1}}';

    afterEach(() => {
      expect(({} as any).polluted).toBeUndefined();
      expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
      expect(([] as any).polluted).toBeUndefined();
    });

    /** `read`: an object a read returned, frozen (shared by every read); else one JSON.parse made. */
    function expectOwnProto(o: any, value: unknown, read = true) {
      expect(Object.getPrototypeOf(o)).toBe(Object.prototype);
      expect(Object.hasOwn(o, '__proto__')).toBe(true);
      const descriptor = Object.getOwnPropertyDescriptor(o, '__proto__')!;
      expect(descriptor).toStrictEqual({ value, writable: !read, enumerable: true, configurable: !read });
      expect(o.polluted).toBeUndefined();
    }

    test('"__proto__" in data and as a message key is stored and read as an own property', async () => {
      const store = create();
      const message = JSON.parse(
        `{"type":"Poison","__proto__":{"polluted":1},"data":${poison.replace('}}', '},"nested":{"__proto__":{"polluted":2}}}')}}`,
      );
      expect(Object.keys(message)).toEqual(['type', '__proto__', 'data']);
      await store.saveMessage('poison', message);
      await store.saveMessages('poison', [message, { type: 'P2', data: JSON.parse(poison) }]);
      const reads = [
        ...(await store.getMessages('poison')),
        ...(await store.getAllMessages()),
        ...(await store.getAllMessages({ messageNames: ['Poison'] })),
        ...(await store.getAllMessages({ streamId: 'poison' }, 2)),
      ];
      expect(reads.length).toBe(3 + 3 + 2 + 2);
      for (const m of reads) {
        const msg = m.message as any;
        if (msg.type === 'Poison') {
          expectOwnProto(msg, { polluted: 1 });
          expectOwnProto(msg.data, { polluted: 1 });
          expectOwnProto(msg.data.nested, { polluted: 2 });
          expectExactly(msg, expectedMessage(message, m.timestamp));
          expect(Object.keys(msg)).toEqual(['type', '__proto__', 'data', 'timestamp']);
        } else {
          expectOwnProto(msg.data, { polluted: 1 });
        }
      }
      const parsed = JSON.parse(await store.getMessagesJson('poison'));
      expectOwnProto(parsed[0].message, { polluted: 1 }, false);
      expect(await store.getMessagesJson('poison')).toBe(serving(await store.getMessages('poison')));
    });

    test('a read object written to does not reach the store, and the store never touched a prototype', async () => {
      const store = create();
      await store.saveMessage('poison', JSON.parse(`{"type":"Poison","data":${poison}}`));
      const [first] = await store.getMessages('poison');
      // The own property, not Object.prototype: frozen, so the write throws.
      // biome-ignore lint/suspicious/noProto: the test writes through an own property named __proto__, on purpose
      expect(() => ((first.message.data as any).__proto__.polluted = 99)).toThrow(TypeError);
      const [again] = await store.getMessages('poison');
      expectOwnProto(again.message.data, { polluted: 1 });
    });

    test('"__proto__" in filters, stream ids, types and ids pollutes nothing', async () => {
      const store = create();
      await store.saveMessage('__proto__', {
        type: '__proto__',
        correlationId: '__proto__',
        requestId: '__proto__',
        data: JSON.parse(poison),
      });
      expect([[], [1n]]).toContainEqual(positions(await store.getAllMessages({ jsonFilter: JSON.parse(poison) })));
      expect(positions(await store.getAllMessages({ jsonFilter: JSON.parse('{"__proto__":"x"}') }))).toEqual([]);
      expect(
        positions(await store.getAllMessages({ streamId: '__proto__', messageNames: ['__proto__'], correlationId: '__proto__' })),
      ).toEqual([1n]);
      expect(await store.getStreams()).toEqual(['__proto__']);
      const [m] = await store.getMessages('__proto__');
      expect(m.streamId).toBe('__proto__');
      expectOwnProto(m.message.data, { polluted: 1 });
      // A JSON.parse'd filter with a "__proto__" key and string value matches data with the same own key.
      await store.saveMessage('s', { type: 'S', data: JSON.parse('{"__proto__":"x"}') });
      expect(positions(await store.getAllMessages({ jsonFilter: JSON.parse('{"__proto__":"x"}') }))).toEqual([2n]);
    });
  });

  // ---------------------------------------------------------------------------------
  // A 16 MiB message
  // ---------------------------------------------------------------------------------

  describe('a 16 MiB message', () => {
    const MiB = 1024 * 1024;

    async function roundTrip(message: { type: string; data: any }) {
      const store = create();
      await store.saveMessage('before', { type: 'Small', data: { n: 1 } });
      await store.saveMessage('big', message);
      await store.saveMessages('big', [message]);
      await store.saveMessage('after', { type: 'Small', data: { n: 2 } });
      const expectedText = JSON.stringify(message.data);

      const checkRead = (read: Read, label: string) => {
        expect({ label, n: read.length }).toEqual({ label, n: 2 });
        for (const [i, m] of read.entries()) {
          expect([m.streamId, m.revision, m.position, m.message.type]).toEqual(['big', BigInt(i), BigInt(i + 2), message.type]);
          // One comparison of the whole text: exact, order included, and a readable failure.
          const same = JSON.stringify(m.message.data) === expectedText;
          expect({ label, i, same }).toEqual({ label, i, same: true });
          expect(Object.keys(m.message)).toEqual(['type', 'data', 'timestamp']);
        }
      };
      const read = await store.getMessages('big');
      checkRead(read, 'getMessages');
      const all = await store.getAllMessages();
      expect(positions(all)).toEqual([1n, 2n, 3n, 4n]);
      checkRead(all.slice(1, 3), 'getAllMessages()');
      expect(all[3].message.data).toEqual({ n: 2 });

      const json = await store.getMessagesJson('big');
      const parsed = JSON.parse(json);
      expect(parsed.map((m: any) => [m.position, m.revision])).toEqual([
        ['2', '0'],
        ['3', '1'],
      ]);
      for (const m of parsed) expect(JSON.stringify(m.message.data) === expectedText).toBe(true);
      expect(json === serving(read)).toBe(true);

      const stats = await store.getStats();
      expect(stats.totalMessages).toBe(4);
      expect(stats.memoryUsage).toBeGreaterThan(2 * expectedText.length);
      return { store, read };
    }

    test('data holding one 16 MiB string (of every kind of character) saves and reads back equal', async () => {
      // 32 UTF-16 units: ASCII, 2-, 3- and 4-byte UTF-8, escapes and a lone surrogate.
      const unit = 'abcdefghijklmnopq\u00e9\u4e2d😀"\\\n\u0000\t\u2028\ud800/<>x';
      expect(unit.length).toBe(32);
      const big = unit.repeat((16 * MiB) / unit.length);
      expect(big.length).toBe(16 * MiB);
      const { store, read } = await roundTrip({ type: 'BigString', data: { before: 1, big, after: [true] } });
      const [m] = read;
      const got = (m.message.data as any).big as string;
      expect(got.length).toBe(big.length);
      expect(got === big).toBe(true);
      expect(Object.keys(m.message.data as any)).toEqual(['before', 'big', 'after']);
      // The big string is also a jsonFilter value that matches.
      expect(positions(await store.getAllMessages({ jsonFilter: { big } }))).toEqual([2n, 3n]);
    });

    test('data with 450,000 keys (16 MiB of JSON) saves and reads back equal, in order', async () => {
      const data: Record<string, string | number> = {};
      const n = 450_000;
      const pad = 'v'.repeat(24);
      for (let i = 0; i < n; i++) data[`key-${i.toString().padStart(7, '0')}`] = i % 2 ? `value ${i} ${pad}` : i;
      const text = JSON.stringify(data);
      expect(text.length).toBeGreaterThan(15 * MiB);
      const { store, read } = await roundTrip({ type: 'ManyKeys', data });
      const [m] = read;
      const keys = Object.keys(m.message.data as any);
      expect(keys.length).toBe(n);
      expect(firstDifference(keys, Object.keys(data))).toBe(-1);
      expect((m.message.data as any)['key-0449999']).toBe(`value 449999 ${pad}`);
      expect((m.message.data as any)['key-0000000']).toBe(0);
      expect(positions(await store.getAllMessages({ jsonFilter: { 'key-0123456': 123456, 'key-0000001': `value 1 ${pad}` } }))).toEqual([
        2n,
        3n,
      ]);
    });
  });

  // ---------------------------------------------------------------------------------
  // 100,000-message batches
  // ---------------------------------------------------------------------------------

  describe('a 100,000-message batch', () => {
    const N = 100_000;
    const batch = () => Array.from({ length: N }, (_, i) => ({ type: i % 2 ? 'Odd' : 'Even', data: { i }, correlationId: `c-${i % 7}` }));

    async function storeWithHistory() {
      const store = create();
      await store.saveMessages('existing', [{ type: 'A' }, { type: 'B' }, { type: 'C' }]);
      await store.createSession();
      await store.saveMessage('other', { type: 'D', requestId: 'r' });
      return store;
    }

    /** After a rejected batch: the next save gets position 5 and 'existing' revision 3. */
    async function expectNextSaveUnmoved(store: MemoryMessageStore) {
      await store.saveMessage('existing', { type: 'Next' }, 2n);
      const [m] = await store.getMessages('existing', undefined, 1);
      expect([m.position, m.revision, m.message.type]).toEqual([5n, 3n, 'Next']);
      const stats = await store.getStats();
      expect([stats.totalMessages, stats.totalStreams]).toEqual([5, 3]); // existing, the session's stream, other: nothing new
      expect(await store.getStreams()).toEqual(['existing', `session-${(await store.getSessions())[0].sessionId}`, 'other']);
    }

    const badEnds: Array<[string, (messages: any[]) => void, string | RegExp, any]> = [
      [
        "a bigint in the last message's data",
        (ms) => (ms[N - 1].data = { b: 1n }),
        `messages[${N - 1}].data.b is a bigint, which JSON cannot hold`,
        TypeError,
      ],
      [
        'the last message null',
        (ms) => (ms[N - 1] = null),
        `messages[${N - 1}] must be an object with a string "type", got null`,
        TypeError,
      ],
      [
        'a circular reference in the last message',
        (ms) => {
          const c: any = {};
          c.c = c;
          ms[N - 1].data = c;
        },
        `messages[${N - 1}].data.c is a circular reference, which JSON cannot hold`,
        TypeError,
      ],
      // Passes the JavaScript checks (a string on the first read), then JSON.stringify
      // reads a number: only the native side can refuse it.
      [
        'a last message whose type turns into a number when stringified',
        (ms) => {
          let reads = 0;
          const m = { data: {} };
          Object.defineProperty(m, 'type', { enumerable: true, get: () => (++reads === 1 ? 'T' : 5) });
          ms[N - 1] = m;
        },
        `messages[${N - 1}].type must be a string`,
        TypeError,
      ],
    ];

    for (const [label, spoil, text, errorClass] of badEnds) {
      for (const streamId of ['existing', 'brand-new']) {
        test(`with ${label} saves nothing (stream ${streamId})`, async () => {
          const store = await storeWithHistory();
          const messages = batch();
          spoil(messages);
          await expectRejectedAndUnchanged(store, () => store.saveMessages(streamId, messages), errorClass, text);
          expect(await store.getStreamInfo('brand-new')).toBeNull();
          await expectNextSaveUnmoved(store);
        });
      }
    }

    test('with the wrong expected revision saves nothing', async () => {
      const store = await storeWithHistory();
      await expectRejectedAndUnchanged(
        store,
        () => store.saveMessages('existing', batch(), 1n),
        Error,
        'Expected revision 1 but stream is at revision 2',
      );
      await expectRejectedAndUnchanged(
        store,
        () => store.saveMessages('brand-new', batch(), 0n),
        Error,
        'Stream brand-new does not exist, but expected revision 0 was provided',
      );
      await expectNextSaveUnmoved(store);
    });

    test('that is good saves all of it: positions 1..100000, revisions 0..99999', async () => {
      const store = create();
      const messages = batch();
      await store.saveMessages('big', messages, -1n);
      const read = await store.getMessages('big');
      expect(read.length).toBe(N);
      let bad = -1;
      for (let i = 0; i < N && bad < 0; i++) {
        const m = read[i];
        if (
          m.position !== BigInt(i + 1) ||
          m.revision !== BigInt(i) ||
          (m.message.data as any).i !== i ||
          m.message.type !== messages[i].type ||
          m.streamId !== 'big'
        )
          bad = i;
      }
      expect(bad).toBe(-1);
      // One save time for the whole call.
      expect(new Set(read.map((m) => m.timestamp.getTime())).size).toBe(1);
      expect(read[N - 1].message).toStrictEqual({ ...messages[N - 1], timestamp: read[N - 1].timestamp });

      const info = await store.getStreamInfo('big');
      expect([info!.revision, info!.messageCount, info!.firstPosition, info!.lastPosition]).toEqual([99_999n, N, 1n, 100_000n]);
      const stats = await store.getStats();
      expect([stats.totalMessages, stats.totalStreams, stats.totalEvents + stats.totalCommands]).toEqual([N, 1, N]);

      const all = await store.getAllMessages();
      expect(all.length).toBe(N);
      expect(
        firstDifference(
          all.map((m) => m.position),
          read.map((m) => m.position),
        ),
      ).toBe(-1);
      expect(positions(await store.getAllMessages({ correlationId: 'c-3' }, 2))).toEqual([99_992n, 99_999n]);

      await store.saveMessage('big', { type: 'Next' }, 99_999n);
      const [last] = await store.getMessages('big', 100_000n);
      expect([last.position, last.revision]).toEqual([100_001n, 100_000n]);
    });
  });
});
