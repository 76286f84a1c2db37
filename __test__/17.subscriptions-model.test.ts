// Model-based random testing of subscriptions, on every store: random interleavings of
// saves (with every expected-revision mode, some refused), subscriptions (all, by
// stream filter, by names, one stream by revision, from random positions), pulls,
// resumes from the last position seen and aborts. A small model keeps the log and each
// subscription's filter; every pull must give exactly the model's next matches, every
// save the model's outcome (its error text included), and at the end each open
// subscription exactly the rest of its filtered sequence.
//
// REPLAYING A FAILURE: FC_SEED=<n> FC_PATH="<p>" npx jest __test__/17.subscriptions-model.test.ts
import fc from 'fast-check';
import { within } from './support/pull';
import { allStores } from './support/stores';

const STREAMS = ['s0', 's1', 's2'];
const NAMES = ['T0', 'T1'];

type Expect = { kind: 'none' } | { kind: 'mode'; mode: 'any' | 'no_stream' | 'stream_exists' } | { kind: 'revision'; delta: number };
type Filter =
  | { kind: 'all' }
  | { kind: 'stream'; stream: number }
  | { kind: 'names'; name: number }
  | { kind: 'toStream'; stream: number; afterRevision: number };
type Op =
  | { op: 'save'; stream: number; n: number; expect: Expect; asBigint: boolean }
  | { op: 'subscribe'; filter: Filter; after: number }
  | { op: 'pull'; sub: number; k: number }
  | { op: 'resume'; sub: number }
  | { op: 'abort'; sub: number };

const expectArb: fc.Arbitrary<Expect> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc
    .constantFrom('any', 'no_stream', 'stream_exists')
    .map((mode) => ({ kind: 'mode' as const, mode: mode as 'any' | 'no_stream' | 'stream_exists' })),
  fc.integer({ min: -1, max: 1 }).map((delta) => ({ kind: 'revision' as const, delta })),
);
const filterArb: fc.Arbitrary<Filter> = fc.oneof(
  fc.constant({ kind: 'all' as const }),
  fc.integer({ min: 0, max: 2 }).map((stream) => ({ kind: 'stream' as const, stream })),
  fc.integer({ min: 0, max: 1 }).map((name) => ({ kind: 'names' as const, name })),
  fc
    .record({ stream: fc.integer({ min: 0, max: 2 }), afterRevision: fc.integer({ min: -1, max: 3 }) })
    .map((r) => ({ kind: 'toStream' as const, ...r })),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('save' as const),
      stream: fc.integer({ min: 0, max: 2 }),
      n: fc.integer({ min: 0, max: 3 }),
      expect: expectArb,
      asBigint: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('subscribe' as const), filter: filterArb, after: fc.integer({ min: 0, max: 12 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('pull' as const), sub: fc.nat(7), k: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('resume' as const), sub: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('abort' as const), sub: fc.nat(7) }) },
);

interface Logged {
  stream: string;
  type: string;
  revision: number;
  position: number;
}

/** What a subscription must deliver: the log's matches after `after`, in order. */
interface ModelSub {
  filter: Filter;
  /** The last position delivered (or started after). */
  after: number;
  live: any;
  controller: AbortController;
  open: boolean;
}

function matches(f: Filter, m: Logged): boolean {
  switch (f.kind) {
    case 'all':
      return true;
    case 'stream':
      return m.stream === STREAMS[f.stream];
    case 'names':
      return m.type === NAMES[f.name];
    case 'toStream':
      return m.stream === STREAMS[f.stream] && m.revision > f.afterRevision;
  }
}

function open(store: any, f: Filter, after: number, signal: AbortSignal) {
  switch (f.kind) {
    case 'all':
      return store.subscribe({ afterPosition: after, signal });
    case 'stream':
      return store.subscribe({ afterPosition: BigInt(after), filter: { streamId: STREAMS[f.stream] }, signal });
    case 'names':
      return store.subscribe({ afterPosition: after, filter: { messageNames: [NAMES[f.name]] }, signal });
    case 'toStream':
      return store.subscribeToStream(STREAMS[f.stream], { afterRevision: f.afterRevision, signal });
  }
}

const at = (m: any) => `${m.streamId}@${m.revision}#${m.position}:${m.message.type}`;
const atModel = (m: Logged) => `${m.stream}@${m.revision}#${m.position}:${m.type}`;

async function runOps(create: () => any, ops: Op[]) {
  const store = create();
  const log: Logged[] = [];
  /** Stream revisions; a stream in the map exists (maybe with no messages: -1). */
  const revisions = new Map<string, number>();
  const subs: ModelSub[] = [];
  const due = (s: ModelSub) => log.filter((m) => m.position > s.after && matches(s.filter, m));
  try {
    for (const o of ops) {
      if (o.op === 'save') {
        const stream = STREAMS[o.stream];
        const exists = revisions.has(stream);
        const current = revisions.get(stream) ?? -1;
        let expected: any;
        let refusal: string | null = null;
        if (o.expect.kind === 'mode') {
          expected = o.expect.mode;
          if (o.expect.mode === 'no_stream' && current >= 0)
            refusal = `Expected stream ${stream} not to exist, but it is at revision ${current}`;
          if (o.expect.mode === 'stream_exists' && current < 0) refusal = `Expected stream ${stream} to exist, but it has no messages`;
        } else if (o.expect.kind === 'revision') {
          const e = Math.max(-1, current + o.expect.delta);
          expected = o.asBigint ? BigInt(e) : e;
          if (!exists && e !== -1) refusal = `Stream ${stream} does not exist, but expected revision ${e} was provided`;
          else if (exists && e !== current) refusal = `Expected revision ${e} but stream is at revision ${current}`;
        }
        const messages = Array.from({ length: o.n }, (_, i) => ({ type: NAMES[(log.length + i) % 2], data: { i } }));
        const outcome = await store.saveMessages(stream, messages, expected).then(
          () => null,
          (e: Error) => e.message,
        );
        expect(outcome).toBe(refusal);
        if (refusal === null) {
          revisions.set(stream, current);
          for (const m of messages) {
            const revision = revisions.get(stream)! + 1;
            revisions.set(stream, revision);
            log.push({ stream, type: m.type, revision, position: log.length + 1 });
          }
        }
      } else if (o.op === 'subscribe') {
        const controller = new AbortController();
        let after = o.after;
        if (o.filter.kind === 'toStream') {
          after = 0;
        }
        subs.push({ filter: o.filter, after, live: open(store, o.filter, after, controller.signal), controller, open: true });
      } else {
        const s = subs[o.sub % Math.max(1, subs.length)];
        if (s === undefined || !s.open) continue;
        if (o.op === 'pull') {
          const want = due(s).slice(0, o.k);
          const got: any[] = [];
          for (let i = 0; i < want.length; i++) got.push((await within(s.live.next(), 5000, 'pull')).value);
          expect(got.map(at)).toEqual(want.map(atModel));
          if (want.length > 0) s.after = want[want.length - 1].position;
        } else if (o.op === 'resume') {
          await s.live.close();
          s.controller = new AbortController();
          if (s.filter.kind === 'toStream') {
            // By revision: after the last revision delivered (or the first one asked for).
            const last = log.find((m) => m.position === s.after && matches(s.filter, m));
            const afterRevision = last?.revision ?? s.filter.afterRevision;
            s.filter = { ...s.filter, afterRevision };
            s.live = open(store, s.filter, 0, s.controller.signal);
          } else {
            s.live = store.subscribe(
              s.filter.kind === 'all'
                ? { afterPosition: BigInt(s.after), signal: s.controller.signal }
                : s.filter.kind === 'stream'
                  ? { afterPosition: s.after, filter: { streamId: STREAMS[s.filter.stream] }, signal: s.controller.signal }
                  : { afterPosition: s.after, filter: { messageNames: [NAMES[s.filter.name]] }, signal: s.controller.signal },
            );
          }
        } else {
          s.controller.abort();
          s.open = false;
          await expect(s.live.next()).rejects.toMatchObject({ name: 'AbortError' });
          expect(await s.live.next()).toEqual({ value: undefined, done: true });
        }
      }
    }
    for (const s of subs.filter((x) => x.open)) {
      const want = due(s);
      const got: any[] = [];
      for (let i = 0; i < want.length; i++) got.push((await within(s.live.next(), 5000, 'final pull')).value);
      expect(got.map(at)).toEqual(want.map(atModel));
      await s.live.close();
    }
  } finally {
    for (const s of subs) await s.live.close();
  }
}

const RUNS: Record<string, number> = { MemoryMessageStore: 150, SqliteMessageStore: 60, PostgresMessageStore: 25 };

describe.each(allStores)('$name', ({ create, name }) => {
  test('every subscription receives exactly the model filtered sequence, across saves, resumes and aborts', async () => {
    const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 40 }), (ops) => runOps(create, ops)),
      { numRuns: Number(process.env.FC_NUM_RUNS ?? RUNS[name.split(' ')[0]]), seed, path: process.env.FC_PATH },
    );
  });
});
