// Model-based random testing: random sequences of every public
// operation, good and bad arguments mixed, run against the native store and against
// the executable model of docs/behaviour.md in support/model.ts. After every step the store's
// result (or its error class and text) must equal the model's, and so must getStats
// (less memoryUsage); at the end of each sequence the whole state is compared.
//
// Time: Date.now() is mocked with a fake clock. Each step first moves the clock by its
// `dt` (0 and small steps mostly, sometimes backwards), so the model knows every save
// time exactly, including equal and non-monotonic ones.
// Session ids: the model takes the id that createSession returned (after checking its
// form and that it embeds the fake clock's time).
//
// REPLAYING A FAILURE: fast-check prints `{ seed: <n>, path: "<p>", endOnFailure: true }`
// and the shrunk counterexample (the list of operation records). Replay exactly that
// case, shrinking included, with
//   FC_SEED=<n> FC_PATH="<p>" npx jest __test__/95.model-based.test.ts
// (this passes `{ seed, path }` to fc.assert). FC_NUM_RUNS=<n> changes the number of
// sequences (default 1000); FC_SEED alone reruns the same 1000 sequences.
//
// The last describe holds what the model found: a requestId that JSON does not write as
// itself made an event of a command; the store now refuses it (README, "Inputs that are
// refused"), and the generator leaves those inputs to that describe.

import {
  ConcurrencyError,
  MemoryMessageStore,
  SqliteMessageStore,
  StreamNotFoundError,
  WrongExpectedRevisionError,
} from '@auto-engineer/message-store';
import fc from 'fast-check';
import { type ExpectedError, Model, type Outcome } from './support/model';
import { postgresStore, tempDbPath } from './support/stores';

// ---------------------------------------------------------------------------------
// Operation records: plain data, turned into real arguments (Dates, cycles, functions,
// bigints) afresh each time a step runs: fast-check reuses records while shrinking, and
// the test changes the caller's objects after each save.

type V =
  | ['s', string]
  | ['n', number]
  | ['b', boolean]
  | ['null']
  | ['undef']
  | ['date', number]
  | ['arr', V[]]
  | ['obj', Array<[string, V]>]
  | ['bigint']
  | ['fn']
  | ['sym']
  | ['circ']
  | ['deep']
  | ['tojson', 'ok' | 'undefined' | 'bigint'];

type StreamRef = ['lit', string] | ['sessionStream', number] | ['sessionIdAsStream', number] | ['bad', V];
type SessionRef = ['known', number] | ['lit', string] | ['bad', V];
type Expected = ['absent'] | ['right'] | ['rightNumber'] | ['wrong', number] | ['lit', V | ['big', bigint]];
type Msg = ['entries', Array<[string, V]>] | ['raw', V] | ['hole'];
type TimeSpec = ['rel', number] | ['msg', number, number] | ['bad', V];
/** An integer near the interesting ones: (k mod (size + 1)) + d, resolved when the step runs. */
type Near = ['near', number, number, boolean];
type FilterSpec = ['absent'] | ['raw', V] | ['obj', Record<string, unknown>];

type Op = { dt: number } & (
  | { op: 'save'; batch: boolean; stream: StreamRef; messages: Msg[] | ['notArray', V]; expected: Expected; type: V }
  | { op: 'getMessages'; json: boolean; stream: StreamRef; from: V | ['big', bigint] | Near; count: V }
  | {
      op: 'query';
      method: 'getAllMessages' | 'getAllCommands' | 'getAllEvents' | 'getAllMessagesJson' | 'getSessionMessages';
      session: SessionRef;
      filter: FilterSpec;
      count: V;
    }
  | { op: 'getStreamInfo'; stream: StreamRef }
  | { op: 'getSessionInfo' | 'endSession'; session: SessionRef }
  | { op: 'getStreams' | 'getSessions' | 'getStats' | 'reset' | 'dispose' }
  | { op: 'createSession' }
  | { op: 'bulk'; stream: StreamRef; n: number; seed: number; type: V }
  | { op: 'burst'; ops: Op[] }
);

function nested(levels: number) {
  const root: any = {};
  let cur = root;
  for (let i = 1; i < levels; i++) cur = cur.x = {};
  return root;
}

/** The real value a spec stands for (fresh objects every call). */
function build(v: V | ['big', bigint]): unknown {
  switch (v[0]) {
    case 's':
    case 'n':
    case 'b':
    case 'big':
      return v[1];
    case 'null':
      return null;
    case 'undef':
      return undefined;
    case 'date':
      return new Date(v[1]);
    case 'arr':
      return v[1].map(build);
    case 'obj': {
      const o: Record<string, unknown> = {};
      // defineProperty, so that a "__proto__" key is an own key, as JSON.parse makes it.
      for (const [k, x] of v[1]) Object.defineProperty(o, k, { value: build(x), enumerable: true, writable: true, configurable: true });
      return o;
    }
    case 'bigint':
      return 10n;
    case 'fn':
      return () => 1;
    case 'sym':
      return Symbol('s');
    case 'circ': {
      const o: any = { a: [1] };
      o.a.push(o);
      return o;
    }
    case 'deep':
      return nested(1000);
    case 'tojson':
      // JSON.stringify writes what toJSON returns (the undefined one drops the key).
      return { toJSON: () => (v[1] === 'ok' ? { via: 'toJSON', n: 1 } : v[1] === 'bigint' ? { b: 1n } : undefined) };
  }
}

function buildMessage(m: Msg): unknown {
  if (m[0] === 'raw') return build(m[1]);
  if (m[0] === 'hole') return undefined;
  return build(['obj', m[1]]);
}

// ---------------------------------------------------------------------------------
// Generators. Small pools, so that names, types and ids collide.

// A requestId that JSON does not write as itself (NaN and ±Infinity become null, a
// toJSON may give undefined or '') is refused with a TypeError, which the model does not
// state; those values are tested on their own in the last describe.
const EXCLUDE_REQUEST_IDS_JSON_CHANGES = true;
const REQUEST_IDS_JSON_CHANGES: V[] = [
  ['n', NaN],
  ['n', Infinity],
  ['n', -Infinity],
  ['tojson', 'undefined'],
];

const STRINGS = [
  '',
  'a',
  'v',
  'ord-1',
  'ord-2',
  'é',
  '😀',
  'quote"d',
  "it's",
  'back\\slash',
  'line\nbreak',
  '\ud800',
  '\u0000',
  'x'.repeat(41),
];
const KEYS = ['k', 'orderId', 'n', 'a', '0', 'length', '__proto__', 'ключ', 'quo"te', '', '\ud800', 'back\\slash'];
const TYPES = ['A', 'B', 'CreateUser', 'Créé', 'q"uote', '😀', '', '\ud800', 'c\u0001'];
const STREAMS = [
  'orders-1',
  'orders-2',
  'user-commands',
  'user-events',
  'plain',
  'Command-Caps',
  'EVENTS',
  'event-command',
  'ünï-😀-event',
  'q"uote\'s\\',
  '',
  'no-session',
  'long-'.repeat(200),
  'back\\u0041slash',
  'ctl\u0001\u001f\b\f\t\u007f',
  'lone\ud800-event',
  '\udc00\u2028\u2029',
];
const DATES = [0, -1, 1_700_000_000_000, 8.64e15, -8.64e15, 253_402_300_800_000, 1_700_000_000_005];

/** fc.oneof with fractional weights allowed (scaled to integers). */
function oneof<T>(...choices: Array<{ weight: number; arbitrary: fc.Arbitrary<T> }>): fc.Arbitrary<T> {
  return fc.oneof(...choices.map((c) => ({ weight: Math.round(c.weight * 10), arbitrary: c.arbitrary })));
}

const scalar: fc.Arbitrary<V> = oneof(
  { weight: 4, arbitrary: fc.constantFrom(...STRINGS).map((s): V => ['s', s]) },
  {
    weight: 3,
    arbitrary: fc
      // biome-ignore lint/correctness/noPrecisionLoss: numbers past 2^53 are among the values under test
      .constantFrom(0, -0, 1, -1, 2, 2.5, 1e21, 5e-324, 2 ** 53 + 2, NaN, Infinity, 0.1 + 0.2, 1e-7, 12345678901234567890)
      .map((n): V => ['n', n]),
  },
  { weight: 1, arbitrary: fc.boolean().map((b): V => ['b', b]) },
  { weight: 1, arbitrary: fc.constant<V>(['null']) },
  { weight: 1, arbitrary: fc.constant<V>(['undef']) },
  { weight: 1, arbitrary: fc.constantFrom(...DATES).map((d): V => ['date', d]) },
  { weight: 0.3, arbitrary: fc.constantFrom<V>(['tojson', 'ok'], ['tojson', 'undefined']) },
);

const value: fc.Arbitrary<V> = fc.letrec<{ v: V }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: scalar },
    { weight: 1, arbitrary: fc.array(tie('v'), { maxLength: 3 }).map((a): V => ['arr', a]) },
    {
      weight: 2,
      arbitrary: fc
        .uniqueArray(fc.tuple(fc.constantFrom(...KEYS), tie('v')), { maxLength: 3, selector: (e) => e[0] })
        .map((e): V => ['obj', e]),
    },
  ),
})).v;

/** A value holding something JSON cannot hold, somewhere. */
const poison: fc.Arbitrary<V> = fc
  .tuple(fc.constantFrom<V>(['bigint'], ['fn'], ['sym'], ['circ'], ['deep'], ['tojson', 'bigint']), fc.constantFrom(0, 1, 2), value)
  .map(
    ([bad, where, other]): V =>
      where === 0
        ? bad
        : where === 1
          ? [
              'obj',
              [
                ['k', other],
                ['bad', bad],
              ],
            ]
          : ['arr', [other, ['obj', [['in', bad]]]]],
  );

const dataArb = oneof({ weight: 30, arbitrary: value }, { weight: 1, arbitrary: poison });

const requestIdArb: fc.Arbitrary<V> = oneof(
  { weight: 6, arbitrary: fc.constantFrom('req-1', 'req-2', '', 'ord-1', '0').map((s): V => ['s', s]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<V>(
      ['null'],
      ['undef'],
      ['n', 0],
      ['b', false],
      ['obj', []],
      ...(EXCLUDE_REQUEST_IDS_JSON_CHANGES ? [] : REQUEST_IDS_JSON_CHANGES),
    ),
  },
);
const correlationIdArb: fc.Arbitrary<V> = oneof(
  { weight: 6, arbitrary: fc.constantFrom('c-1', 'c-2', '', '😀', '1').map((s): V => ['s', s]) },
  { weight: 1, arbitrary: fc.constantFrom<V>(['null'], ['undef'], ['n', 1]) },
);
const timestampArb: fc.Arbitrary<V> = oneof(
  { weight: 4, arbitrary: fc.constantFrom(...DATES).map((d): V => ['date', d]) },
  { weight: 2, arbitrary: fc.constantFrom<V>(['null'], ['undef']) },
  { weight: 0.3, arbitrary: fc.constantFrom<V>(['s', '2020-01-01'], ['n', 5], ['date', NaN], ['obj', []], ['bigint']) },
);
const typeArb: fc.Arbitrary<V | undefined> = oneof(
  { weight: 60, arbitrary: fc.constantFrom(...TYPES).map((t): V => ['s', t]) },
  { weight: 1, arbitrary: fc.constantFrom<V | undefined>(undefined, ['n', 5], ['null'], ['undef']) },
);

const goodMessage: fc.Arbitrary<Msg> = fc
  .record({
    type: typeArb,
    optional: fc.shuffledSubarray(['data', 'requestId', 'correlationId', 'timestamp', 'meta', 'k', '__proto__']),
    at: fc.nat(),
    data: dataArb,
    requestId: requestIdArb,
    correlationId: correlationIdArb,
    timestamp: timestampArb,
    meta: value,
  })
  .map((r): Msg => {
    const entries: Array<[string, V]> = r.optional.map((k) => [k, k === 'k' || k === '__proto__' ? r.meta : (r as any)[k]]);
    if (r.type !== undefined) entries.splice(r.at % (entries.length + 1), 0, ['type', r.type]);
    return ['entries', entries];
  });

const messageArb: fc.Arbitrary<Msg> = oneof(
  { weight: 80, arbitrary: goodMessage },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Msg>(
      ['raw', ['null']],
      ['raw', ['n', 5]],
      ['raw', ['s', 'abc']],
      ['raw', ['arr', []]],
      ['raw', ['fn']],
      ['raw', ['date', 0]],
      ['raw', ['undef']],
    ),
  },
);

const badArg: fc.Arbitrary<V> = fc.constantFrom<V>(
  ['n', 5],
  ['null'],
  ['undef'],
  ['obj', []],
  ['bigint'],
  ['b', true],
  ['arr', []],
  ['s', 'x'],
);

const streamRef: fc.Arbitrary<StreamRef> = oneof(
  { weight: 20, arbitrary: fc.constantFrom(...STREAMS.slice(0, 5)).map((s): StreamRef => ['lit', s]) },
  { weight: 10, arbitrary: fc.constantFrom(...STREAMS.slice(5)).map((s): StreamRef => ['lit', s]) },
  { weight: 2, arbitrary: fc.nat(5).map((i): StreamRef => ['sessionStream', i]) },
  { weight: 1, arbitrary: fc.nat(5).map((i): StreamRef => ['sessionIdAsStream', i]) },
  { weight: 0.5, arbitrary: badArg.filter((v) => v[0] !== 's').map((v): StreamRef => ['bad', v]) },
);

const sessionRef: fc.Arbitrary<SessionRef> = oneof(
  { weight: 8, arbitrary: fc.nat(5).map((i): SessionRef => ['known', i]) },
  { weight: 3, arbitrary: fc.constantFrom('no-session', '', 'session-unknown', 'session-1-abcdefgh').map((s): SessionRef => ['lit', s]) },
  { weight: 0.5, arbitrary: badArg.filter((v) => v[0] !== 's').map((v): SessionRef => ['bad', v]) },
);

const expectedArb: fc.Arbitrary<Expected> = oneof(
  { weight: 12, arbitrary: fc.constant<Expected>(['absent']) },
  { weight: 5, arbitrary: fc.constant<Expected>(['right']) },
  { weight: 2, arbitrary: fc.constant<Expected>(['rightNumber']) },
  { weight: 3, arbitrary: fc.constantFrom(-2, -1, 1, 2).map((d): Expected => ['wrong', d]) },
  // docs/behaviour.md#writing-expected-modes; 'latest' is not one.
  { weight: 3, arbitrary: fc.constantFrom('any', 'no_stream', 'stream_exists', 'latest').map((m): Expected => ['lit', ['s', m]]) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<Expected>(
      ['lit', ['big', -1n]],
      ['lit', ['n', -1]],
      ['lit', ['big', 0n]],
      ['lit', ['n', 0]],
      ['lit', ['n', -0]],
      ['lit', ['big', 5n]],
      ['lit', ['big', 2n ** 64n]],
      ['lit', ['n', 2 ** 53 - 1]],
    ),
  },
  {
    weight: 0.8,
    arbitrary: fc.constantFrom<Expected>(
      ['lit', ['n', 0.5]],
      ['lit', ['s', '1']],
      ['lit', ['big', -2n]],
      ['lit', ['n', -2]],
      ['lit', ['null']],
      ['lit', ['n', NaN]],
      ['lit', ['n', 2 ** 53]],
      ['lit', ['b', true]],
      ['lit', ['n', Infinity]],
    ),
  },
);

const messageTypeArgArb: fc.Arbitrary<V> = oneof(
  { weight: 12, arbitrary: fc.constant<V>(['undef']) },
  { weight: 4, arbitrary: fc.constantFrom<V>(['s', 'command'], ['s', 'event'], ['null']) },
  { weight: 0.4, arbitrary: fc.constantFrom<V>(['s', 'x'], ['s', 'Command'], ['n', 5]) },
);

const countArb: fc.Arbitrary<V> = oneof(
  { weight: 8, arbitrary: fc.constant<V>(['undef']) },
  {
    weight: 8,
    arbitrary: fc
      .constantFrom(0, -0, 1, 2, 3, 2.5, 0.5, 1.0001, -1, -2.5, NaN, Infinity, -Infinity, 1e10, Number.MAX_VALUE)
      .map((n): V => ['n', n]),
  },
  { weight: 0.5, arbitrary: fc.constantFrom<V>(['s', '5'], ['bigint'], ['b', true], ['obj', []], ['arr', [['n', 2]]]) },
  { weight: 1, arbitrary: fc.constant<V>(['null']) },
);

const integerArb = (bad: boolean): fc.Arbitrary<V | ['big', bigint] | Near> =>
  oneof<V | ['big', bigint] | Near>(
    { weight: 8, arbitrary: fc.constantFrom<V | ['big', bigint]>(['undef'], ['null']) },
    {
      weight: 4,
      arbitrary: fc.constantFrom<V | ['big', bigint]>(
        ['big', 0n],
        ['big', 1n],
        ['big', 2n],
        ['big', 3n],
        ['big', -1n],
        ['big', -5n],
        ['big', 10n ** 30n],
        ['big', -(10n ** 30n)],
        ['n', 0],
        ['n', 1],
        ['n', 3],
        ['n', 5],
        ['n', -1],
        ['n', 2 ** 53 + 2],
        ['n', 1e21],
        ['n', -1e21],
      ),
    },
    {
      weight: 8,
      arbitrary: fc.tuple(fc.nat(), fc.constantFrom(-1, 0, 0, 1), fc.boolean()).map(([k, d, n]): Near => ['near', k, d, n]),
    },
    {
      weight: bad ? 0.5 : 0,
      arbitrary: fc.constantFrom<V | ['big', bigint]>(['n', 1.5], ['s', '1'], ['n', NaN], ['n', Infinity], ['b', true], ['date', 0]),
    },
  );

/** An integer argument: `size` is the number of messages it ranges over (positions start at 1, revisions at 0). */
function buildInteger(spec: V | ['big', bigint] | Near, size: number, first: number): unknown {
  if (spec[0] !== 'near') return build(spec);
  const v = first + (spec[1] % (size + 1)) + spec[2];
  return spec[3] ? v : BigInt(v);
}

const timeArb: fc.Arbitrary<TimeSpec> = oneof(
  { weight: 4, arbitrary: fc.integer({ min: -40, max: 40 }).map((d): TimeSpec => ['rel', d]) },
  { weight: 6, arbitrary: fc.tuple(fc.nat(), fc.constantFrom(-1, 0, 0, 1)).map(([k, d]): TimeSpec => ['msg', k, d]) },
  { weight: 0.5, arbitrary: fc.constantFrom<TimeSpec>(['bad', ['s', 'x']], ['bad', ['date', NaN]], ['bad', ['n', 5]]) },
);

const jsonFilterArb: fc.Arbitrary<V> = oneof(
  {
    weight: 10,
    arbitrary: fc
      .uniqueArray(fc.tuple(fc.constantFrom(...KEYS), value), { maxLength: 2, selector: (e) => e[0] })
      // A filter value whose toJSON gives undefined has no JSON value to compare with: left out.
      .filter((e) => !JSON.stringify(e, (_k, x) => (typeof x === 'bigint' ? 0 : x)).includes('"tojson","undefined"'))
      .map((e): V => ['obj', e]),
  },
  { weight: 0.5, arbitrary: fc.constantFrom<V>(['arr', []], ['s', 'x'], ['n', 1]) },
  { weight: 0.5, arbitrary: poison.map((p): V => ['obj', [['k', p]]]) },
);

const FILTER_KEYS = [
  'messageType',
  'messageNames',
  'streamId',
  'sessionId',
  'correlationId',
  'requestId',
  'fromPosition',
  'toPosition',
  'fromTimestamp',
  'toTimestamp',
  'jsonFilter',
] as const;

/** A filter with a few of its fields (so that results are not always empty), in random key order. */
const filterFields = fc
  .record({
    keys: fc.shuffledSubarray([...FILTER_KEYS], { maxLength: 4 }),
    messageType: oneof(
      { weight: 8, arbitrary: fc.constantFrom<V>(['s', 'command'], ['s', 'event'], ['null'], ['undef'], ['s', '']) },
      { weight: 0.5, arbitrary: fc.constant<V>(['s', 'x']) },
    ),
    messageNames: oneof(
      { weight: 12, arbitrary: fc.subarray(TYPES, { maxLength: 3 }).map((a): V => ['arr', a.map((t): V => ['s', t])]) },
      { weight: 0.5, arbitrary: fc.constantFrom<V>(['s', 'A'], ['arr', [['n', 1]]], ['arr', [['null']]]) },
      { weight: 1, arbitrary: fc.constant<V>(['null']) },
    ),
    streamId: streamRef,
    sessionId: sessionRef,
    correlationId: correlationIdArb,
    requestId: requestIdArb,
    fromPosition: integerArb(true),
    toPosition: integerArb(true),
    fromTimestamp: timeArb,
    toTimestamp: timeArb,
    jsonFilter: jsonFilterArb,
  })
  .map((r) => {
    const out: Record<string, unknown> = {};
    for (const k of r.keys) out[k] = (r as any)[k];
    return out;
  });

const filterArb: fc.Arbitrary<FilterSpec> = oneof(
  { weight: 3, arbitrary: fc.constant<FilterSpec>(['absent']) },
  { weight: 12, arbitrary: filterFields.map((f): FilterSpec => ['obj', f]) },
  { weight: 1, arbitrary: fc.constant<FilterSpec>(['raw', ['null']]) },
  { weight: 0.5, arbitrary: fc.constantFrom<FilterSpec>(['raw', ['s', 'x']], ['raw', ['arr', []]], ['raw', ['n', 5]], ['raw', ['fn']]) },
);

const dtArb = oneof(
  { weight: 6, arbitrary: fc.constant(0) },
  { weight: 6, arbitrary: fc.constant(1) },
  { weight: 3, arbitrary: fc.integer({ min: 2, max: 30 }) },
  { weight: 1, arbitrary: fc.integer({ min: -30, max: -1 }) },
);

const batchArb: fc.Arbitrary<Msg[] | ['notArray', V]> = oneof<Msg[] | ['notArray', V]>(
  { weight: 30, arbitrary: fc.array(messageArb, { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc.array(oneof({ weight: 5, arbitrary: messageArb }, { weight: 1, arbitrary: fc.constant<Msg>(['hole']) }), {
      minLength: 1,
      maxLength: 3,
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<V>(['s', 'abc'], ['obj', [['type', ['s', 'A']]]], ['null'], ['undef'], ['n', 5])
      .map((v): ['notArray', V] => ['notArray', v]),
  },
);

// saveMessage gets `messages[0]`, saveMessages the whole array (or a non-array).
const saveArb = fc
  .record({
    op: fc.constant('save' as const),
    dt: dtArb,
    batch: fc.boolean(),
    one: messageArb,
    many: batchArb,
    stream: streamRef,
    expected: expectedArb,
    type: messageTypeArgArb,
  })
  .map(({ one, many, ...rest }) => ({ ...rest, messages: rest.batch ? many : [one] }));

// Every operation but createSession (whose id the model needs before going on).
const plainOps: Array<{ weight: number; arbitrary: fc.Arbitrary<Op> }> = [
  { weight: 30, arbitrary: saveArb },
  {
    weight: 20,
    arbitrary: fc.record({
      op: fc.constant('query' as const),
      dt: dtArb,
      method: fc.constantFrom(
        'getAllMessages',
        'getAllCommands',
        'getAllEvents',
        'getAllMessagesJson',
        'getSessionMessages',
      ) as fc.Arbitrary<'getAllMessages' | 'getAllCommands' | 'getAllEvents' | 'getAllMessagesJson' | 'getSessionMessages'>,
      session: sessionRef,
      filter: filterArb,
      count: countArb,
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('getMessages' as const),
      dt: dtArb,
      json: fc.boolean(),
      stream: streamRef,
      from: integerArb(true),
      count: countArb,
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('getStreamInfo' as const), dt: dtArb, stream: streamRef }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constantFrom('getSessionInfo' as const, 'endSession' as const), dt: dtArb, session: sessionRef }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constantFrom('getStreams' as const, 'getSessions' as const, 'getStats' as const), dt: dtArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('reset' as const, 'dispose' as const), dt: dtArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('bulk' as const),
      dt: dtArb,
      stream: streamRef,
      n: fc.integer({ min: 20, max: 300 }),
      seed: fc.nat(),
      type: messageTypeArgArb,
    }),
  },
];

const opArb: fc.Arbitrary<Op> = oneof(
  ...plainOps,
  { weight: 4, arbitrary: fc.record({ op: fc.constant('createSession' as const), dt: dtArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('burst' as const),
      dt: fc.constant(0),
      ops: fc.array(oneof(...plainOps), { minLength: 2, maxLength: 6 }),
    }),
  },
);

// ---------------------------------------------------------------------------------
// Comparison.

/** A text that tells two results apart by value, type, key order, Date and bigint. */
function canon(x: unknown): string {
  switch (typeof x) {
    case 'undefined':
      return 'undefined';
    case 'bigint':
      return `${x}n`;
    case 'number':
      return Object.is(x, -0) ? '-0' : String(x);
    case 'string':
      return JSON.stringify(x);
    case 'boolean':
      return String(x);
    case 'object': {
      if (x === null) return 'null';
      if (x instanceof Date) {
        const t = x.getTime();
        return `Date(${Number.isNaN(t) ? 'Invalid' : t})`;
      }
      if (Array.isArray(x)) return `[${Array.from(x, canon).join(',')}]`;
      const proto = Object.getPrototypeOf(x) === Object.prototype ? '' : '!proto';
      return `${proto}{${Object.keys(x)
        .map((k) => `${JSON.stringify(k)}:${canon((x as any)[k])}`)
        .join(',')}}`;
    }
    default:
      return `<${typeof x}>`;
  }
}

class Mismatch extends Error {}

/** Throws with both texts, cut to a window around the first difference when long. */
function fail(what: string, expected: string, actual: string): never {
  let at = 0;
  while (at < expected.length && expected[at] === actual[at]) at++;
  const from = Math.max(0, at - 400);
  const cut = (s: string) => `${from > 0 ? '…' : ''}${s.slice(from, at + 1200)}${s.length > at + 1200 ? '…' : ''}`;
  throw new Mismatch(`${what} (first difference at character ${at})\n  model: ${cut(expected)}\n  store: ${cut(actual)}`);
}

const ERROR_CLASSES: Record<string, any> = { StreamNotFoundError, WrongExpectedRevisionError, ConcurrencyError };

function describeError(e: any): string {
  return e instanceof Error
    ? `${e.constructor?.name}: ${e.message} ${canon({ streamId: (e as any).streamId, expectedRevision: (e as any).expectedRevision, actualRevision: (e as any).actualRevision })}`
    : `non-Error ${canon(e)}`;
}

function describeExpectedError(e: ExpectedError): string {
  return e.kind === 'TypeError'
    ? `TypeError: ${e.text}`
    : `${e.kind}: ${e.text} ${canon({ streamId: e.streamId, expectedRevision: e.expectedRevision, actualRevision: e.actualRevision })}`;
}

function compare(label: string, expected: Outcome<unknown>, actual: Settled) {
  if (expected.error) {
    const want = expected.error;
    if (!actual.rejected) fail(`${label}: should reject`, describeExpectedError(want), `resolved ${canon(actual.ok)}`);
    const e = actual.error;
    let good: boolean;
    if (want.kind === 'TypeError') {
      good = e instanceof TypeError && e.constructor === TypeError && e.message === want.text;
    } else {
      good =
        e instanceof ERROR_CLASSES[want.kind] &&
        e instanceof ConcurrencyError &&
        e instanceof Error &&
        e.name === want.kind &&
        e.message === want.text &&
        e.streamId === want.streamId &&
        e.expectedRevision === want.expectedRevision &&
        e.actualRevision === want.actualRevision;
    }
    if (!good) fail(`${label}: wrong error`, describeExpectedError(want), describeError(e));
    return;
  }
  if (actual.rejected) fail(`${label}: should resolve`, canon(expected.ok), `rejected with ${describeError(actual.error)}`);
  const a = canon(actual.ok);
  const b = canon(expected.ok);
  if (a !== b) fail(`${label}: wrong result`, b, a);
}

/**
 * Tries a write to something a read returned. Messages are shared by reads and so
 * frozen (their Dates refuse setters): a write to them must throw a TypeError; any
 * other result is the caller's own and takes it.
 */
function attempt(target: object, write: () => void) {
  try {
    write();
  } catch (e) {
    if (!(e instanceof TypeError) || !Object.isFrozen(target)) throw e;
    counters.refusedWrites += 1;
    return;
  }
  if (Object.isFrozen(target) && !Array.isArray(target)) fail('a write to a frozen result', 'a TypeError', 'no error');
}

/** Changes what a read returned; the store must not notice (docs/behaviour.md#writing-copy). */
function scribble(result: any) {
  if (Array.isArray(result)) {
    for (const m of result.slice(0, 2)) scribble(m);
    result.push({ junk: true });
    return;
  }
  if (result === null || typeof result !== 'object') return;
  for (const k of Object.keys(result)) {
    const v = result[k];
    if (v instanceof Date) attempt(v, () => v.setTime(1));
    else if (typeof v === 'bigint') attempt(result, () => (result[k] = -99n));
    else if (typeof v === 'number') attempt(result, () => (result[k] = -1));
    else if (v && typeof v === 'object') {
      attempt(v, () => (v.type = '¡scribbled'));
      if (v.data && typeof v.data === 'object') attempt(v.data, () => (v.data.k = '¡scribbled'));
    }
  }
}

/** Changes the caller's saved objects after the save; the store must not notice. */
function scribbleInput(value: unknown) {
  if (Array.isArray(value)) {
    value.forEach(scribbleInput);
    value.push({ type: '¡pushed' });
  } else if (value && typeof value === 'object' && !(value instanceof Date)) {
    const m = value as any;
    m.type = '¡scribbled';
    if (m.data && typeof m.data === 'object' && !Object.isFrozen(m.data)) {
      if (Array.isArray(m.data)) m.data.push('¡scribbled');
      else m.data.k = '¡scribbled';
    }
  }
}

// ---------------------------------------------------------------------------------
// Running one sequence.

const START = 1_700_000_000_000;
let clock = START;
const counters = {
  sequences: 0,
  steps: 0,
  calls: 0,
  bursts: 0,
  rejected: 0,
  typeErrors: 0,
  concurrencyErrors: 0,
  nonEmptyReads: 0,
  emptyReads: 0,
  refusedWrites: 0,
  ops: {} as Record<string, number>,
};

function resolveStream(ref: StreamRef, model: Model): unknown {
  const ids = model.sessionIds();
  switch (ref[0]) {
    case 'lit':
      return ref[1];
    case 'sessionStream':
      return ids.length ? `session-${ids[ref[1] % ids.length]}` : 'session-none';
    case 'sessionIdAsStream':
      return ids.length ? ids[ref[1] % ids.length] : 'none-yet';
    case 'bad':
      return build(ref[1]);
  }
}

function resolveSession(ref: SessionRef, model: Model): unknown {
  const ids = model.sessionIds();
  if (ref[0] === 'known') return ids.length ? ids[ref[1] % ids.length] : 'session-none-yet';
  return ref[0] === 'lit' ? ref[1] : build(ref[1]);
}

/** A filter time: near the clock, or near the save time of one of the messages. */
function buildTime(spec: TimeSpec, model: Model): unknown {
  if (spec[0] === 'rel') return new Date(clock + spec[1]);
  if (spec[0] === 'bad') return build(spec[1]);
  const times = model.saveTimes();
  return new Date((times.length ? times[spec[1] % times.length] : clock) + spec[2]);
}

function buildFilter(spec: FilterSpec, model: Model): unknown {
  if (spec[0] === 'absent') return undefined;
  if (spec[0] === 'raw') return build(spec[1]);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec[1]) as Array<[string, any]>) {
    if (k === 'streamId') out[k] = resolveStream(v, model);
    else if (k === 'sessionId') out[k] = resolveSession(v, model);
    else if (k === 'fromTimestamp' || k === 'toTimestamp') out[k] = buildTime(v, model);
    else if (k === 'fromPosition' || k === 'toPosition') out[k] = buildInteger(v, model.saveTimes().length, 1);
    else out[k] = build(v);
  }
  return out;
}

function resolveExpected(spec: Expected, streamId: unknown, revisionOf: (id: string) => bigint): unknown {
  const rev = typeof streamId === 'string' ? revisionOf(streamId) : -1n;
  switch (spec[0]) {
    case 'absent':
      return undefined;
    case 'right':
      return rev;
    case 'rightNumber':
      return Number(rev);
    case 'wrong': {
      const wrong = rev + BigInt(spec[1]) < -1n ? rev + 1n : rev + BigInt(spec[1]);
      return spec[1] % 2 === 0 ? Number(wrong) : wrong;
    }
    case 'lit':
      return build(spec[1]);
  }
}

/** Messages for a bulk save, from a small seeded generator (collisions on purpose). */
function bulkMessages(n: number, seed: number) {
  let s = seed >>> 0;
  const next = (k: number) => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return (s >>> 8) % k;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const m: Record<string, unknown> = { type: TYPES[next(TYPES.length)] };
    if (next(5)) m.data = { orderId: ['ord-1', 'ord-2', 'ord-3'][next(3)], n: next(4), k: STRINGS[next(STRINGS.length)] };
    if (next(2)) m.requestId = ['req-1', 'req-2', '', '0'][next(4)];
    if (next(2)) m.correlationId = ['c-1', 'c-2', '1'][next(3)];
    if (!next(8)) m.timestamp = new Date(DATES[next(DATES.length)]);
    out.push(m);
  }
  return out;
}

type Settled = { ok?: any; error?: any; rejected: boolean };

/**
 * One operation, applied to the model and then called on the store, synchronously (the
 * store's promise is not awaited here, so several can be in flight, as in a burst).
 */
interface Started {
  label: string;
  kind: string;
  expected: Outcome<unknown>;
  result: Promise<Settled>;
  isRead: boolean;
  after?: () => void;
  statsResult?: boolean;
}

/** Calls the store; a synchronous throw is a failure (docs/behaviour.md#order: every method returns a promise). */
function invoke(label: string, call: () => any): Promise<Settled> {
  let p: any;
  try {
    p = call();
  } catch (e) {
    fail(`${label}: threw synchronously`, 'a promise', String(e));
  }
  if (!(p instanceof Promise)) fail(`${label}: did not return a promise`, 'a promise', canon(p));
  return p.then(
    (ok: any) => ({ ok, rejected: false }),
    (error: any) => ({ error, rejected: true }),
  );
}

function start(
  store: any,
  model: Model,
  op: Exclude<Op, { op: 'createSession' | 'burst' }>,
  label: string,
  revisionOf: (id: string) => bigint,
): Started {
  clock += op.dt;
  const now = clock;
  const kind = op.op === 'query' ? op.method : op.op;
  counters.ops[kind] = (counters.ops[kind] ?? 0) + 1;
  counters.calls += 1;
  const go = (expected: Outcome<unknown>, call: () => any, isRead = false): Started => ({
    label,
    kind,
    expected,
    result: invoke(label, call),
    isRead,
  });
  switch (op.op) {
    case 'save': {
      const streamId = resolveStream(op.stream, model);
      const expectedRevision = resolveExpected(op.expected, streamId, revisionOf);
      const messageType = build(op.type);
      let input: unknown;
      if (op.messages[0] === 'notArray') input = build(op.messages[1] as V);
      else if (op.batch) {
        const list = op.messages as Msg[];
        input = new Array(list.length);
        list.forEach((m, i) => {
          if (m[0] !== 'hole') (input as unknown[])[i] = buildMessage(m);
        });
      } else input = buildMessage((op.messages as Msg[])[0]);
      const started = op.batch
        ? go(model.saveMessages(streamId, input, expectedRevision, messageType, now), () =>
            store.saveMessages(streamId, input, expectedRevision, messageType),
          )
        : go(model.saveMessage(streamId, input, expectedRevision, messageType, now), () =>
            store.saveMessage(streamId, input, expectedRevision, messageType),
          );
      // Changing the caller's objects after the call must not change what was stored.
      scribbleInput(input);
      return started;
    }
    case 'bulk': {
      const streamId = resolveStream(op.stream, model);
      const messages = bulkMessages(op.n, op.seed);
      const messageType = build(op.type);
      const started = go(model.saveMessages(streamId, messages, undefined, messageType, now), () =>
        store.saveMessages(streamId, messages, undefined, messageType),
      );
      scribbleInput(messages);
      return started;
    }
    case 'getMessages': {
      const streamId = resolveStream(op.stream, model);
      const size = typeof streamId === 'string' ? Number(model.revisionOf(streamId)) + 1 : 0;
      const args = [streamId, buildInteger(op.from, size, 0), build(op.count)] as const;
      return op.json
        ? go(model.getMessagesJson(...args), () => store.getMessagesJson(...args))
        : go(model.getMessages(...args), () => store.getMessages(...args), true);
    }
    case 'query': {
      const filter = buildFilter(op.filter, model);
      const count = build(op.count);
      if (op.method === 'getSessionMessages') {
        const sessionId = resolveSession(op.session, model);
        return go(model.getSessionMessages(sessionId, filter, count), () => store.getSessionMessages(sessionId, filter, count), true);
      }
      return go((model as any)[op.method](filter, count), () => store[op.method](filter, count), op.method !== 'getAllMessagesJson');
    }
    case 'getStreamInfo': {
      const streamId = resolveStream(op.stream, model);
      return go(model.getStreamInfo(streamId), () => store.getStreamInfo(streamId), true);
    }
    case 'getSessionInfo': {
      const sessionId = resolveSession(op.session, model);
      return go(model.getSessionInfo(sessionId), () => store.getSessionInfo(sessionId), true);
    }
    case 'endSession': {
      const sessionId = resolveSession(op.session, model);
      return go(model.endSession(sessionId, now), () => store.endSession(sessionId));
    }
    case 'getStreams':
    case 'getSessions':
      return go(model[op.op](), () => store[op.op](), true);
    case 'getStats':
      return { ...go(model.getStats(), () => store.getStats()), statsResult: true };
    case 'reset':
    case 'dispose':
      // A file store's dispose() closes it, which the model does not describe; its
      // reset() makes the change the model's dispose() stands for.
      return go(model[op.op](), () => (durableRun ? store.reset() : store[op.op]()));
  }
}

async function finish(started: Started) {
  const actual = await started.result;
  if (started.statsResult && !actual.rejected) actual.ok = withoutMemoryUsage(actual.ok);
  if (actual.rejected) {
    counters.rejected += 1;
    if (actual.error instanceof ConcurrencyError) counters.concurrencyErrors += 1;
    else if (actual.error instanceof TypeError) counters.typeErrors += 1;
  } else if (Array.isArray(actual.ok) && started.isRead && started.kind !== 'getStreams' && started.kind !== 'getSessions') {
    if (actual.ok.length) counters.nonEmptyReads += 1;
    else counters.emptyReads += 1;
  }
  compare(started.label, started.expected, actual);
  // Changing what a read returned must not change the store.
  if (started.isRead && !actual.rejected) scribble(actual.ok);
}

async function createSession(store: any, model: Model, dt: number, label: string) {
  clock += dt;
  const now = clock;
  counters.ops.createSession = (counters.ops.createSession ?? 0) + 1;
  counters.calls += 1;
  const actual = await invoke(label, () => store.createSession());
  if (actual.rejected) fail(`${label}: createSession rejected`, 'an id', describeError(actual.error));
  const id = actual.ok;
  if (typeof id !== 'string' || !new RegExp(`^session-${now}-[A-Za-z0-9_-]{8}$`).test(id)) {
    fail(`${label}: session id`, `session-${now}-<8 chars of A-Za-z0-9_->`, canon(id));
  }
  if (model.sessionIds().includes(id)) fail(`${label}: session id reused`, 'a new id', id);
  compare(label, model.createSession(id, now), actual);
}

async function step(store: any, model: Model, op: Op, index: number) {
  const label = `step ${index} (${op.op}${'method' in op ? ` ${op.method}` : ''})`;
  if (op.op === 'createSession') {
    await createSession(store, model, op.dt, label);
  } else if (op.op === 'burst') {
    // Calls made one after another without awaiting: each takes effect in call order
    // (docs/behaviour.md#order). Expected revisions are read before the burst, so
    // saves with the same expectation race as un-awaited saves do.
    counters.bursts += 1;
    const before = new Map<string, bigint>();
    const snapshot = (id: string) => {
      if (!before.has(id)) before.set(id, model.revisionOf(id));
      return before.get(id)!;
    };
    for (const id of model.streamIds()) snapshot(id);
    const all: Started[] = op.ops.map((sub, i) =>
      start(store, model, sub as Exclude<Op, { op: 'createSession' | 'burst' }>, `${label} call ${i} (${sub.op})`, snapshot),
    );
    for (const started of all) await finish(started);
  } else {
    await finish(start(store, model, op, label, (id) => model.revisionOf(id)));
  }
  // After every step, the whole-store counters must agree (getStats is O(1)).
  const stats = await store.getStats();
  checkMemoryUsage(`${label}: after`, stats.memoryUsage, model);
  compare(`${label}: getStats after the step`, model.getStats(), { ok: withoutMemoryUsage(stats), rejected: false });
}

function withoutMemoryUsage(stats: any) {
  if (stats === null || typeof stats !== 'object') return stats;
  const { memoryUsage: _ignored, ...rest } = stats;
  return rest;
}

function checkMemoryUsage(label: string, memoryUsage: unknown, model: Model) {
  if (typeof memoryUsage !== 'number' || !Number.isSafeInteger(memoryUsage) || memoryUsage < 0) {
    fail(`${label}: memoryUsage`, 'a non-negative integer', canon(memoryUsage));
  }
  if (model.isEmpty() && memoryUsage !== 0) fail(`${label}: memoryUsage of an empty store`, '0', String(memoryUsage));
}

/** The whole observable state, compared at the end of every sequence. */
async function compareWholeState(store: any, model: Model) {
  compare('end: getAllMessages', model.getAllMessages(), await invoke('end', () => store.getAllMessages()));
  compare('end: getAllMessagesJson', model.getAllMessagesJson(), await invoke('end', () => store.getAllMessagesJson()));
  compare('end: getStreams', model.getStreams(), await invoke('end', () => store.getStreams()));
  for (const id of model.streamIds()) {
    compare(`end: getStreamInfo(${JSON.stringify(id)})`, model.getStreamInfo(id), await invoke('end', () => store.getStreamInfo(id)));
    compare(`end: getMessages(${JSON.stringify(id)})`, model.getMessages(id), await invoke('end', () => store.getMessages(id)));
  }
  compare('end: getSessions', model.getSessions(), await invoke('end', () => store.getSessions()));
  for (const id of [...model.sessionIds(), 'no-session']) {
    compare(`end: getSessionInfo(${id})`, model.getSessionInfo(id), await invoke('end', () => store.getSessionInfo(id)));
    compare(`end: getSessionMessages(${id})`, model.getSessionMessages(id), await invoke('end', () => store.getSessionMessages(id)));
  }
  const stats = await store.getStats();
  checkMemoryUsage('end', stats.memoryUsage, model);
  compare('end: getStats', model.getStats(), { ok: withoutMemoryUsage(stats), rejected: false });
}

/** Whether the sequence running is against a file store. */
let durableRun = false;

async function runSequence(create: () => any, durable: boolean, start: number, ops: Op[]) {
  durableRun = durable;
  counters.sequences += 1;
  clock = start;
  const store = create();
  const model = new Model();
  for (let i = 0; i < ops.length; i++) {
    counters.steps += 1;
    await step(store, model, ops[i], i);
  }
  await compareWholeState(store, model);
  await store.dispose();
}

// ---------------------------------------------------------------------------------

const numRuns = Number(process.env.FC_NUM_RUNS ?? 1000);
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const path = process.env.FC_PATH;

// The SQLite store runs fewer sequences: each opens a new file; PostgreSQL fewer still:
// each makes a schema on the server.
const models = [
  { name: 'MemoryMessageStore', create: () => new MemoryMessageStore(), durable: false, runs: numRuns },
  { name: 'SqliteMessageStore', create: () => new SqliteMessageStore(tempDbPath()), durable: true, runs: Math.ceil(numRuns / 2) },
  { name: 'PostgresMessageStore', create: () => postgresStore.create(), durable: true, runs: Math.ceil(numRuns / 10) },
];

describe.each(models)('$name against the model of docs/behaviour.md', ({ create, durable, runs }) => {
  let nowSpy: jest.SpyInstance;
  beforeAll(() => {
    nowSpy = jest.spyOn(Date, 'now').mockImplementation(() => clock);
  });
  afterAll(() => {
    nowSpy.mockRestore();
    console.log(
      `model-based: ${counters.sequences} sequences, ${counters.steps} steps, ${counters.calls} calls ` +
        `(${counters.bursts} steps were bursts of un-awaited calls; shrinking runs included when a property failed)\n` +
        `rejected calls: ${counters.rejected} (${counters.typeErrors} TypeError, ${counters.concurrencyErrors} concurrency); ` +
        `message reads: ${counters.nonEmptyReads} non-empty, ${counters.emptyReads} empty; ` +
        `writes to shared results refused: ${counters.refusedWrites}\n` +
        `operations: ${JSON.stringify(counters.ops)}`,
    );
  });

  test(`${runs} random sequences of up to 60 operations agree with the model, step by step`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: START - 100_000, max: START + 100_000 }),
        fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }),
        (start, ops) => runSequence(create, durable, start, ops),
      ),
      { numRuns: runs, seed, path, endOnFailure: path === undefined ? undefined : true, verbose: 0 },
    );
  }, 600_000);
});

// Found by the model: upstream decides with `message.requestId !== undefined && !== null
// && !== ''` on the caller's value, while the store decides on the stored JSON text, where
// NaN becomes null. Rather than store a command as an event, the store refuses such a
// requestId, and changes nothing.
describe('a requestId JSON would not keep', () => {
  test.each([
    ['NaN', NaN, 'the number NaN'],
    ['Infinity', Infinity, 'the number Infinity'],
    ['-Infinity', -Infinity, 'the number -Infinity'],
    ['an object whose toJSON gives undefined', { toJSON: () => undefined }, 'an object'],
    ["an object whose toJSON gives ''", { toJSON: () => '' }, 'an object'],
  ])('%s is refused with a TypeError, and nothing changes', async (_label, requestId, described) => {
    const store = new MemoryMessageStore();
    await expect(store.saveMessage('plain', { type: 'A', data: {}, requestId: requestId as any })).rejects.toThrow(
      new TypeError(`message.requestId must be a string or another value JSON writes as itself, got ${described}`),
    );
    await expect(store.saveMessages('plain', [{ type: 'A' }, { type: 'B', requestId: requestId as any }])).rejects.toBeInstanceOf(
      TypeError,
    );
    expect(await store.getStreams()).toEqual([]);
    expect((await store.getStats()).totalMessages).toBe(0);
    await store.saveMessage('plain', { type: 'A', data: {}, requestId: 0 as any });
    expect((await store.getMessages('plain')).map((m) => [m.messageType, m.position])).toEqual([['command', 1n]]);
  });
});
