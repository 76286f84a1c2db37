// docs/behaviour.md#writing-all-or-nothing (all or nothing; TypeErrors naming the argument) and
// "Order and concurrency" (never a synchronous throw).

import { expectRejectedAndUnchanged, observe, probe } from './support/helpers';
import { stores } from './support/stores';

const circular = () => {
  const c: any = { a: 1 };
  c.self = c;
  return c;
};
const deepCircular = () => {
  const c: any = { a: { b: {} } };
  c.a.b.back = c.a;
  return c;
};
const arrayCircular = () => {
  const a: any[] = [1];
  a.push(a);
  return { list: a };
};
const nested = (levels: number) => {
  const root: any = {};
  let cur = root;
  for (let i = 1; i < levels; i++) cur = cur.x = {};
  return root;
};
const xs = (n: number) => Array(n).fill('x').join('.');

// [label, call, exact text]
const badSaves: Array<[string, (s: any) => Promise<unknown>, string]> = [
  ['streamId a number', (s) => s.saveMessage(5, { type: 'A' }), 'streamId must be a string, got the number 5'],
  ['streamId undefined', (s) => s.saveMessage(undefined, { type: 'A' }), 'streamId must be a string, got undefined'],
  ['streamId null (batch)', (s) => s.saveMessages(null, [{ type: 'A' }]), 'streamId must be a string, got null'],
  ['streamId an object', (s) => s.saveMessages({}, [{ type: 'A' }]), 'streamId must be a string, got an object'],
  ['streamId a bigint', (s) => s.saveMessage(5n, { type: 'A' }), 'streamId must be a string, got the bigint 5n'],
  ['messages a string', (s) => s.saveMessages('s', 'abc'), 'messages must be an array of messages, got the string "abc"'],
  ['messages an object', (s) => s.saveMessages('s', { type: 'A' }), 'messages must be an array of messages, got an object'],
  ['messages undefined', (s) => s.saveMessages('s'), 'messages must be an array of messages, got undefined'],
  ['messages null', (s) => s.saveMessages('s', null), 'messages must be an array of messages, got null'],
  ['messages[1] null', (s) => s.saveMessages('s', [{ type: 'A' }, null]), 'messages[1] must be an object with a string "type", got null'],
  [
    'messages[0] a hole',
    // biome-ignore lint/suspicious/noSparseArray: a hole in the array is the bad input under test
    (s) => s.saveMessages('s', [, { type: 'A' }]),
    'messages[0] must be an object with a string "type", got undefined',
  ],
  [
    'messages[2] a string',
    (s) => s.saveMessages('s', [{ type: 'A' }, { type: 'B' }, 'C']),
    'messages[2] must be an object with a string "type", got the string "C"',
  ],
  ['messages[0] an array', (s) => s.saveMessages('s', [[]]), 'messages[0] must be an object with a string "type", got an array'],
  ['messages[0].type undefined', (s) => s.saveMessages('s', [{ data: {} }]), 'messages[0].type must be a string, got undefined'],
  [
    'messages[1].type a number',
    (s) => s.saveMessages('s', [{ type: 'A' }, { type: 5 }]),
    'messages[1].type must be a string, got the number 5',
  ],
  ['messages[0].type null', (s) => s.saveMessages('s', [{ type: null }]), 'messages[0].type must be a string, got null'],
  ['message an array', (s) => s.saveMessage('s', []), 'message must be an object with a string "type", got an array'],
  ['message undefined', (s) => s.saveMessage('s'), 'message must be an object with a string "type", got undefined'],
  ['message null', (s) => s.saveMessage('s', null), 'message must be an object with a string "type", got null'],
  ['message a string', (s) => s.saveMessage('s', 'abc'), 'message must be an object with a string "type", got the string "abc"'],
  ['message a function', (s) => s.saveMessage('s', () => 1), 'message must be an object with a string "type", got a function'],
  ['message.type missing', (s) => s.saveMessage('s', { data: {} }), 'message.type must be a string, got undefined'],
  [
    'a function in data',
    (s) => s.saveMessages('s', [{ type: 'A', data: { f() {} } }]),
    'messages[0].data.f is a function, which JSON cannot hold',
  ],
  [
    'a function in data (saveMessage)',
    (s) => s.saveMessage('s', { type: 'A', data: { f() {} } }),
    'message.data.f is a function, which JSON cannot hold',
  ],
  [
    'a bigint in data',
    (s) => s.saveMessages('s', [{ type: 'A', data: { b: 1n } }]),
    'messages[0].data.b is a bigint, which JSON cannot hold',
  ],
  [
    'a symbol in data',
    (s) => s.saveMessages('s', [{ type: 'A', data: { s: Symbol('x') } }]),
    'messages[0].data.s is a symbol, which JSON cannot hold',
  ],
  [
    'a bigint deep in arrays',
    (s) => s.saveMessages('s', [{ type: 'A' }, { type: 'B', data: { arr: [1, [2, { q: 1n }]] } }]),
    'messages[1].data.arr[1][1].q is a bigint, which JSON cannot hold',
  ],
  [
    'a function in an array',
    (s) => s.saveMessage('s', { type: 'A', data: { a: [() => 1] } }),
    'message.data.a[0] is a function, which JSON cannot hold',
  ],
  ['data itself a bigint', (s) => s.saveMessage('s', { type: 'A', data: 10n }), 'message.data is a bigint, which JSON cannot hold'],
  [
    'a function in another field',
    (s) => s.saveMessage('s', { type: 'A', meta: () => 1 }),
    'message.meta is a function, which JSON cannot hold',
  ],
  ['a bigint requestId', (s) => s.saveMessage('s', { type: 'A', requestId: 1n }), 'message.requestId is a bigint, which JSON cannot hold'],
  [
    'a circular reference',
    (s) => s.saveMessages('s', [{ type: 'A', data: circular() }]),
    'messages[0].data.self is a circular reference, which JSON cannot hold',
  ],
  [
    'a deeper circular reference',
    (s) => s.saveMessages('s', [{ type: 'A', data: deepCircular() }]),
    'messages[0].data.a.b.back is a circular reference, which JSON cannot hold',
  ],
  [
    'an array containing itself',
    (s) => s.saveMessage('s', { type: 'A', data: arrayCircular() }),
    'message.data.list[1] is a circular reference, which JSON cannot hold',
  ],
  [
    'a message referring to itself',
    (s) =>
      s.saveMessage(
        's',
        (() => {
          const m: any = { type: 'A' };
          m.self = m;
          return m;
        })(),
      ),
    'message.self is a circular reference, which JSON cannot hold',
  ],
  [
    'data nested 1001 levels (message counted)',
    (s) => s.saveMessages('s', [{ type: 'A', data: nested(1000) }]),
    `messages[0].data.${xs(999)} is nested more than 1000 levels deep`,
  ],
  [
    'timestamp a string',
    (s) => s.saveMessages('s', [{ type: 'A', timestamp: '2020-01-01' }]),
    'messages[0].timestamp must be a valid Date, got the string "2020-01-01"',
  ],
  [
    'timestamp a number',
    (s) => s.saveMessages('s', [{ type: 'A', timestamp: 5 }]),
    'messages[0].timestamp must be a valid Date, got the number 5',
  ],
  [
    'timestamp an invalid Date',
    (s) => s.saveMessages('s', [{ type: 'A', timestamp: new Date(NaN) }]),
    'messages[0].timestamp must be a valid Date, got a Date',
  ],
  ['timestamp an object', (s) => s.saveMessage('s', { type: 'A', timestamp: {} }), 'message.timestamp must be a valid Date, got an object'],
  [
    'timestamp a string (saveMessage)',
    (s) => s.saveMessage('s', { type: 'A', timestamp: 'x' }),
    'message.timestamp must be a valid Date, got the string "x"',
  ],
  [
    'timestamp a bigint',
    (s) => s.saveMessages('s', [{ type: 'A', timestamp: 1n }]),
    'messages[0].timestamp must be a valid Date, got the bigint 1n',
  ],
  [
    'messageType unknown',
    (s) => s.saveMessage('s', { type: 'A' }, undefined, 'x'),
    `messageType must be 'command' or 'event', got the string "x"`,
  ],
  [
    'expectedRevision a float',
    (s) => s.saveMessage('s', { type: 'A' }, 0.5),
    `expectedRevision must be a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists', got the number 0.5`,
  ],
  [
    'expectedRevision NaN',
    (s) => s.saveMessage('s', { type: 'A' }, NaN),
    `expectedRevision must be a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists', got the number NaN`,
  ],
  [
    'expectedRevision a string',
    (s) => s.saveMessages('s', [{ type: 'A' }], '0'),
    `expectedRevision must be a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists', got the string "0"`,
  ],
  [
    'expectedRevision below -1',
    (s) => s.saveMessage('s', { type: 'A' }, -2n),
    `expectedRevision must be a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists', got the bigint -2n`,
  ],
  [
    'data nested 10,000 levels',
    (s) => s.saveMessage('s', { type: 'A', data: nested(10_000) }),
    `message.data.${xs(999)} is nested more than 1000 levels deep`,
  ],
];

const badReads: Array<[string, (s: any) => Promise<unknown>, string]> = [
  ['getMessages streamId', (s) => s.getMessages(5), 'streamId must be a string, got the number 5'],
  [
    'getMessages fromRevision float',
    (s) => s.getMessages('s', 1.5),
    'fromRevision must be a bigint or an integer number, got the number 1.5',
  ],
  [
    'getMessages fromRevision string',
    (s) => s.getMessages('s', '1'),
    'fromRevision must be a bigint or an integer number, got the string "1"',
  ],
  ['getMessages count string', (s) => s.getMessages('s', undefined, '5'), 'count must be a number, got the string "5"'],
  ['getAllMessages filter string', (s) => s.getAllMessages('x'), 'filter must be an object, got the string "x"'],
  ['getAllMessages count', (s) => s.getAllMessages({}, '5'), 'count must be a number, got the string "5"'],
  [
    'getAllCommands filter',
    (s) => s.getAllCommands({ messageNames: 'A' }),
    'filter.messageNames must be an array of strings, got the string "A"',
  ],
  [
    'filter.fromPosition a string',
    (s) => s.getAllMessages({ fromPosition: '1' }),
    'filter.fromPosition must be a bigint or an integer number, got the string "1"',
  ],
  [
    'filter.fromTimestamp not a Date',
    (s) => s.getAllMessages({ fromTimestamp: '2020-01-01' }),
    'filter.fromTimestamp must be a valid Date, got the string "2020-01-01"',
  ],
  [
    'filter.jsonFilter not an object',
    (s) => s.getAllEvents({ jsonFilter: 'orderId' }),
    'filter.jsonFilter must be an object, got the string "orderId"',
  ],
  [
    'filter.messageNames with a number',
    (s) => s.getAllMessages({ messageNames: ['A', 1] }),
    'filter.messageNames must be an array of strings, got an array',
  ],
  ['getAllEvents count', (s) => s.getAllEvents(undefined, 5n), 'count must be a number, got the bigint 5n'],
  ['getStreamInfo streamId', (s) => s.getStreamInfo(5), 'streamId must be a string, got the number 5'],
  ['endSession sessionId', (s) => s.endSession(5), 'sessionId must be a string, got the number 5'],
  ['getSessionInfo sessionId', (s) => s.getSessionInfo(null), 'sessionId must be a string, got null'],
  ['getSessionMessages sessionId', (s) => s.getSessionMessages(undefined), 'sessionId must be a string, got undefined'],
  ['getSessionMessages filter', (s) => s.getSessionMessages('x', 'a'), 'filter must be an object, got the string "a"'],
  ['getSessionMessages count', (s) => s.getSessionMessages('x', undefined, 'a'), 'count must be a number, got the string "a"'],
];

describe.each(stores)('$name: bad input and all-or-nothing', ({ create }) => {
  let store: any;
  let sessionId: string;
  beforeEach(async () => {
    store = create();
    await store.saveMessages('s', [{ type: 'Before1' }, { type: 'Before2', requestId: 'r' }]);
    sessionId = await store.createSession();
    await store.saveMessage('in-session', { type: 'InSession' });
  });

  test.each(badSaves)('save with %s: TypeError, exact text, nothing changes', async (_label, call, text) => {
    const before = await expectRejectedAndUnchanged(store, () => call(store), TypeError, text);
    expect(before.stats.totalMessages).toBe(3);
    const next = await probe(store);
    expect([next.position, next.sessionId]).toEqual([4n, sessionId]);
    expect((await store.getSessionInfo(sessionId)).messageCount).toBe(2);
  });

  test.each(badReads)('%s: TypeError, exact text, nothing changes', async (_label, call, text) => {
    await expectRejectedAndUnchanged(store, () => call(store), TypeError, text);
  });

  // Messages whose `type` JSON would not write: the check must name the argument as the
  // other checks do (`message` for saveMessage, `messages[i]` for saveMessages).
  const nonEnumerableType = () => Object.defineProperty({ data: {} }, 'type', { value: 'A', enumerable: false });
  test.each([
    ['an inherited type', (s: any) => s.saveMessage('s', Object.create({ type: 'A' })), /^message(\.type)? must be .+, got /],
    ['a non-enumerable type', (s: any) => s.saveMessage('s', nonEnumerableType()), /^message(\.type)? must be .+, got /],
    [
      'a toJSON giving no type',
      (s: any) => s.saveMessage('s', { type: 'A', toJSON: () => ({ x: 1 }) }),
      /^message(\.type)? must be .+, got /,
    ],
    ['a toJSON giving a number', (s: any) => s.saveMessage('s', { type: 'A', toJSON: () => 5 }), /^message(\.type)? must be .+, got /],
    [
      'an inherited type at [1]',
      (s: any) => s.saveMessages('s', [{ type: 'A' }, Object.create({ type: 'A' })]),
      /^messages\[1\](\.type)? must be .+, got /,
    ],
  ])('save with %s: TypeError naming the argument, nothing changes', async (_label, call, text) => {
    await expectRejectedAndUnchanged(store, () => call(store), TypeError, text);
    expect((await probe(store)).position).toBe(4n);
  });

  test('data whose toJSON gives what JSON cannot hold: TypeError naming the argument, nothing changes', async () => {
    await expectRejectedAndUnchanged(
      store,
      () => store.saveMessage('s', { type: 'A', data: { toJSON: () => ({ b: 1n }) } }),
      TypeError,
      /^message\b/,
    );
    await expectRejectedAndUnchanged(
      store,
      () =>
        store.saveMessages('s', [
          {
            type: 'A',
            data: {
              toJSON: () => {
                const c: any = {};
                c.c = c;
                return c;
              },
            },
          },
        ]),
      TypeError,
      /^messages\b/,
    );
  });

  test('a batch with one bad message saves none of it, and does not create the stream', async () => {
    const before = await observe(store);
    await expect(
      store.saveMessages('new-stream', [{ type: 'Good1' }, { type: 'Good2' }, { type: 'Bad', data: { n: 1n } }]),
    ).rejects.toHaveProperty('message', 'messages[2].data.n is a bigint, which JSON cannot hold');
    await expect(store.saveMessages('s', [{ type: 'Good' }, { notype: true }])).rejects.toHaveProperty(
      'message',
      'messages[1].type must be a string, got undefined',
    );
    expect(await observe(store)).toEqual(before);
    expect(await store.getStreamInfo('new-stream')).toBeNull();
    expect(await store.getMessages('s')).toHaveLength(2);
    await store.saveMessage('s', { type: 'Next' }, 1n);
    expect((await store.getMessages('s'))[2].position).toBe(4n);
  });

  test('a concurrency rejection in a session changes no counter, activity, stream or position', async () => {
    const sessionBefore = await store.getSessionInfo(sessionId);
    const infoBefore = await store.getStreamInfo('s');
    await expect(store.saveMessages('s', [{ type: 'X' }, { type: 'Y' }], 0n)).rejects.toHaveProperty(
      'message',
      'Expected revision 0 but stream is at revision 1',
    );
    await expect(store.saveMessage('nope', { type: 'X' }, 2n)).rejects.toHaveProperty(
      'message',
      'Stream nope does not exist, but expected revision 2 was provided',
    );
    expect(await store.getSessionInfo(sessionId)).toEqual(sessionBefore);
    expect(await store.getStreamInfo('s')).toEqual(infoBefore);
    expect(await store.getStreamInfo('nope')).toBeNull();
    expect((await probe(store)).position).toBe(4n);
  });

  test('a message whose type changes once checked is refused alone: the saves called around it, not awaited, are kept', async () => {
    let reads = 0;
    const shifty = { data: {} } as Record<string, unknown>;
    Object.defineProperty(shifty, 'type', { enumerable: true, get: () => (++reads === 1 ? 'Shifty' : 5) });
    const before = store.saveMessage('around', { type: 'Before' });
    const refused = store.saveMessage('around', shifty as never);
    const after = store.saveMessage('around', { type: 'After' });
    await expect(refused).rejects.toThrow(new TypeError('messages[0].type must be a string'));
    await expect(Promise.all([before, after])).resolves.toEqual([undefined, undefined]);
    expect((await store.getMessages('around')).map((m: any) => [m.message.type, m.revision])).toEqual([
      ['Before', 0n],
      ['After', 1n],
    ]);
  });

  test('the caller object is left as it was when a save is rejected', async () => {
    const message = { type: 'A', timestamp: null, data: { f: () => 1 } };
    await expect(store.saveMessage('s', message)).rejects.toBeInstanceOf(TypeError);
    expect(Object.keys(message)).toEqual(['type', 'timestamp', 'data']);
    expect(message.timestamp).toBeNull();
  });

  test('no method throws synchronously: every bad call returns a rejected promise', async () => {
    const calls: Array<() => Promise<unknown>> = [
      () => store.saveMessage(5, null, 'x', 'y'),
      () => store.saveMessages(5, null, 'x', 'y'),
      () => store.getMessages(5, 'x', 'y'),
      () => store.getAllMessages('x', 'y'),
      () => store.getAllCommands('x', 'y'),
      () => store.getAllEvents('x', 'y'),
      () => store.getStreamInfo(5),
      () => store.endSession(5),
      () => store.getSessionInfo(5),
      () => store.getSessionMessages(5, 'x', 'y'),
      () => store.saveMessage('nope', { type: 'A' }, 5n),
    ];
    for (const call of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => {
        promise = call();
      }).not.toThrow();
      expect(promise).toBeInstanceOf(Promise);
      await expect(promise).rejects.toBeInstanceOf(Error);
    }
  });
});
