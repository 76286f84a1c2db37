// Subscriptions (docs/behaviour.md#subscriptions), the same on every store: catch up from
// a position, then follow new messages once they are safe, each once, in position order;
// how they end; what a consumer that does not pull holds; and the expected-revision modes.
import { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } from '@auto-engineer/message-store';
import { take, within } from './support/pull';
import { allStores } from './support/stores';

/** `stream@revision#position`: what identifies a delivery. */
const ids = (ms: any[]) => ms.map((m) => `${m.streamId}@${m.revision}#${m.position}`);

const ev = (type: string, data: Record<string, unknown> = {}) => ({ type, data });

describe.each(allStores)('$name', ({ create, name }) => {
  test('catches up from the start, then follows new saves: each once, in position order, across the hand-over', async () => {
    const store = create();
    await store.saveMessage('a', ev('A1'));
    await store.saveMessages('b', [ev('B1'), ev('B2')]);
    const sub = store.subscribe();
    const first = await take(sub, 3);
    expect(ids(first)).toEqual(['a@0#1', 'b@0#2', 'b@1#3']);
    // Saved while the consumer waits, and while it does not.
    const waiting = take(sub, 2);
    await sub.caughtUp;
    await store.saveMessage('a', ev('A2'));
    await store.saveMessage('c', ev('C1'));
    expect(ids(await within(waiting, 5000, 'live'))).toEqual(['a@1#4', 'c@0#5']);
    await store.saveMessages('a', [ev('A3'), ev('A4')]);
    const later = await within(take(sub, 2), 5000, 'live');
    expect(ids(later)).toEqual(['a@2#6', 'a@3#7']);
    expect(later[0].message).toEqual({ type: 'A3', data: {}, timestamp: later[0].timestamp });
    expect(later[0].messageType).toBe('event');
    await sub.close();
    expect(sub.closed).toBe(true);
    expect(await sub.next()).toEqual({ value: undefined, done: true });
  });

  test('caughtUp resolves once every message stored at the start was handed to the consumer', async () => {
    const store = create();
    for (let i = 0; i < 5; i++) await store.saveMessage('s', ev(`E${i}`));
    const sub = store.subscribe({ afterPosition: 2n });
    let caught = false;
    sub.caughtUp.then(() => {
      caught = true;
    });
    expect(ids(await take(sub, 2))).toEqual(['s@2#3', 's@3#4']);
    await new Promise((r) => setTimeout(r, 20));
    expect(caught).toBe(false);
    // Exactly the stored messages taken with next(), no pull past them: caught up.
    expect(ids([(await sub.next()).value])).toEqual(['s@4#5']);
    await within(sub.caughtUp, 5000, 'caughtUp');
    expect(caught).toBe(true);
    const next = sub.next();
    await store.saveMessage('s', ev('E5'));
    expect(ids([(await within(next, 5000, 'live')).value])).toEqual(['s@5#6']);
    await sub.close();

    // A filter whose last stored match comes before other messages: caught up after
    // the last match is taken, with the rest of the range read ahead to know it.
    const mixed = create();
    await mixed.saveMessage('a', ev('A0'));
    await mixed.saveMessages(
      'b',
      Array.from({ length: 2100 }, (_, i) => ev('B', { i })),
    );
    const only = mixed.subscribe({ filter: { streamId: 'a' } });
    expect(ids([(await only.next()).value])).toEqual(['a@0#1']);
    await within(only.caughtUp, 5000, 'caughtUp past unmatched pages');
    expect(only.buffered).toBe(0);
    await only.close();

    // An empty store: caught up at once.
    const empty = create();
    const none = empty.subscribe();
    const pending = none.next();
    await within(none.caughtUp, 5000, 'caughtUp');
    await none.close();
    expect(await pending).toEqual({ value: undefined, done: true });
  });

  test('resumes after the last position seen: nothing skipped, nothing twice', async () => {
    const store = create();
    for (let i = 0; i < 7; i++) await store.saveMessage(i % 2 ? 'odd' : 'even', ev('E', { i }));
    const first = store.subscribe();
    const seen = await take(first, 4);
    await first.close();
    for (let i = 7; i < 10; i++) await store.saveMessage('late', ev('E', { i }));
    const resumed = store.subscribe({ afterPosition: seen[seen.length - 1].position });
    const rest = await take(resumed, 6);
    await resumed.close();
    expect([...seen, ...rest].map((m) => (m.message.data as any).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...seen, ...rest].map((m) => m.position)).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    // A number works as well as a bigint; past the head, only what comes later.
    const fromNumber = store.subscribe({ afterPosition: 8 });
    expect(ids(await take(fromNumber, 2))).toEqual(['late@1#9', 'late@2#10']);
    await fromNumber.close();
    const pastHead = store.subscribe({ afterPosition: 12n });
    const waiting = take(pastHead, 1);
    await store.saveMessages('late', [ev('X'), ev('Y'), ev('Z')]);
    expect(ids(await within(waiting, 5000, 'live'))).toEqual(['late@5#13']);
    await pastHead.close();
  });

  test('a filter delivers what getAllMessages returns for it, then the new matches', async () => {
    const store = create();
    await store.saveMessage('orders', { type: 'Placed', data: { id: 1, region: 'eu' }, correlationId: 'c1' });
    await store.saveMessage('orders', { type: 'Paid', data: { id: 1 }, correlationId: 'c1' });
    await store.saveMessage('users', { type: 'CreateUser', data: { id: 2 } }, undefined, 'command');
    await store.saveMessage('orders', { type: 'Placed', data: { id: 3, region: 'us' } });
    const filters = [
      { messageNames: ['Placed'] },
      { streamId: 'orders' },
      { messageType: 'command' },
      { correlationId: 'c1' },
      { jsonFilter: { region: 'eu' } },
      { messageNames: ['Placed'], fromPosition: 2n },
      { messageNames: [] as string[], toPosition: 3n },
      { messageNames: ['Nothing'] },
    ];
    const subs = filters.map((filter) => store.subscribe({ filter }));
    for (const [i, filter] of filters.entries()) {
      const stored = await store.getAllMessages(filter);
      expect(ids(await take(subs[i], stored.length))).toEqual(ids(stored));
    }
    expect(filters.map((f) => f)).toHaveLength(8);
    const live = subs.map((s: any) => s.next());
    await store.saveMessage('orders', { type: 'Placed', data: { id: 5, region: 'eu' }, correlationId: 'c1' });
    await store.saveMessage('users', { type: 'DeleteUser', data: {} }, undefined, 'command');
    // Each filter's first live match: positions 5 (the Placed) or 6 (the command).
    const got = await within(Promise.all(live.slice(0, 6)), 5000, 'live');
    expect(got.map((r: any) => r.value.position)).toEqual([5n, 5n, 6n, 5n, 5n, 5n]);
    // toPosition 3 and a name never saved: nothing more, however much is saved.
    let extra = 0;
    live[6].then(() => extra++);
    live[7].then(() => extra++);
    await new Promise((r) => setTimeout(r, 50));
    expect(extra).toBe(0);
    await Promise.all(subs.map((s: any) => s.close()));
    expect(await live[6]).toEqual({ value: undefined, done: true });
  });

  test('subscribeToStream follows one stream by revision', async () => {
    const store = create();
    await store.saveMessages('s', [ev('S0'), ev('S1'), ev('S2')]);
    await store.saveMessage('other', ev('O0'));
    const all = store.subscribeToStream('s');
    expect(ids(await take(all, 3))).toEqual(['s@0#1', 's@1#2', 's@2#3']);
    const after1 = store.subscribeToStream('s', { afterRevision: 1n });
    expect(ids(await take(after1, 1))).toEqual(['s@2#3']);
    const ahead = store.subscribeToStream('s', { afterRevision: 3 });
    const notYet = store.subscribeToStream('new');
    const w = [all.next(), after1.next(), ahead.next(), notYet.next()];
    await store.saveMessage('other', ev('O1'));
    await store.saveMessages('s', [ev('S3'), ev('S4')]);
    await store.saveMessage('new', ev('N0'));
    const got = await within(Promise.all(w), 5000, 'live');
    expect(got.map((r: any) => `${r.value.streamId}@${r.value.revision}`)).toEqual(['s@3', 's@3', 's@4', 'new@0']);
    await Promise.all([all, after1, ahead, notYet].map((s) => s.close()));
  });

  test('break, return(), close() and an AbortSignal each end it; a pull after gives done', async () => {
    const store = create();
    await store.saveMessages('s', [ev('A'), ev('B'), ev('C')]);
    const got: bigint[] = [];
    const broken = store.subscribe();
    for await (const m of broken) {
      got.push(m.position);
      if (got.length === 2) break;
    }
    expect(got).toEqual([1n, 2n]);
    expect(broken.closed).toBe(true);
    expect(await broken.next()).toEqual({ value: undefined, done: true });

    const returned = store.subscribe();
    await take(returned, 1);
    expect(await returned.return()).toEqual({ value: undefined, done: true });
    expect(returned.closed).toBe(true);

    const controller = new AbortController();
    const aborted = store.subscribe({ signal: controller.signal });
    await take(aborted, 3);
    const waiting = aborted.next();
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(aborted.closed).toBe(true);
    expect(await aborted.next()).toEqual({ value: undefined, done: true });

    const early = store.subscribeToStream('s', { signal: AbortSignal.abort(new Error('stop now')) });
    await expect(early.next()).rejects.toThrow('stop now');
    expect(await early.next()).toEqual({ value: undefined, done: true });

    // What was saved meanwhile is there for the next subscription.
    await store.saveMessage('s', ev('D'));
    const again = store.subscribe({ afterPosition: 3n });
    expect(ids(await take(again, 1))).toEqual(['s@3#4']);
    await again.close();
  });

  test('reset() ends open subscriptions with ERR_MESSAGE_STORE_RESET; dispose() ends them cleanly', async () => {
    const store = create();
    await store.saveMessage('s', ev('A'));
    const sub = store.subscribe();
    await take(sub, 1);
    const waiting = sub.next();
    const idle = store.subscribe({ afterPosition: 1n });
    await store.reset();
    await expect(waiting).rejects.toMatchObject({
      code: 'ERR_MESSAGE_STORE_RESET',
      message: 'the store was reset: the subscription ended, since the positions it followed no longer exist',
    });
    expect(sub.closed).toBe(true);
    // One that had no pull waiting gets the error at its next pull, then done.
    await expect(idle.next()).rejects.toMatchObject({ code: 'ERR_MESSAGE_STORE_RESET' });
    expect(await idle.next()).toEqual({ value: undefined, done: true });

    // A subscription opened right after reset() is called, not awaited, follows the
    // emptied store: the reset ends only those open when it was called.
    await store.saveMessage('r', ev('R'));
    const resetting = store.reset();
    const after = store.subscribe();
    const first = after.next();
    await resetting;
    await store.saveMessage('r', ev('R2'));
    expect(ids([(await within(first, 5000, 'after reset')).value])).toEqual(['r@0#1']);
    await after.close();
    await store.reset();

    // After the reset, positions start again and a new subscription sees them.
    await store.saveMessage('t', ev('B'));
    const fresh = store.subscribe();
    expect(ids(await take(fresh, 1))).toEqual(['t@0#1']);
    const pending = fresh.next();
    await store.dispose();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(fresh.closed).toBe(true);
  });

  test('a consumer that does not pull holds one page at most; pulling again reads on, in order', async () => {
    const store = create();
    const sub = store.subscribe();
    const waiting = sub.next();
    await store.saveMessage('s', ev('first'));
    expect((await within(waiting, 5000, 'live')).value.position).toBe(1n);
    const n = name.startsWith('PostgresMessageStore') ? 3000 : 5000;
    for (let i = 0; i < n; i += 500) {
      await store.saveMessages(
        's',
        Array.from({ length: 500 }, (_, k) => ev('E', { i: i + k })),
      );
    }
    await new Promise((r) => setTimeout(r, 20));
    expect(sub.buffered).toBe(0);
    const one = await take(sub, 1);
    expect(one[0].position).toBe(2n);
    expect(sub.buffered).toBeLessThanOrEqual(1023);
    const rest = await take(sub, n - 1);
    expect(rest.map((m) => (m.message.data as any).i)).toEqual(Array.from({ length: n - 1 }, (_, k) => k + 1));
    expect(rest[rest.length - 1].position).toBe(BigInt(n + 1));
    await sub.close();
    expect(sub.buffered).toBe(0);
  });

  test('a refused save is never delivered: wrong expectedRevision, bad input, a mode refused', async () => {
    const store = create();
    const sub = store.subscribe();
    const got = take(sub, 3);
    await store.saveMessage('s', ev('ok-1'));
    await expect(store.saveMessage('s', ev('stale'), 5n)).rejects.toThrow(WrongExpectedRevisionError);
    await expect(store.saveMessage('s', { type: 42 } as any)).rejects.toThrow(TypeError);
    await expect(store.saveMessages('s', [ev('fine'), { data: {} } as any])).rejects.toThrow(TypeError);
    await expect(store.saveMessage('s', ev('exists'), 'no_stream')).rejects.toThrow(ConcurrencyError);
    await expect(store.saveMessage('nope', ev('absent'), 'stream_exists')).rejects.toThrow(ConcurrencyError);
    await expect(store.saveMessage('nope', ev('absent'), 3n)).rejects.toThrow(StreamNotFoundError);
    await store.saveMessage('s', ev('ok-2'), 0n);
    await store.saveMessage('t', ev('ok-3'), 'no_stream');
    const delivered = await within(got, 5000, 'live');
    expect(delivered.map((m) => m.message.type)).toEqual(['ok-1', 'ok-2', 'ok-3']);
    expect(delivered.map((m) => m.position)).toEqual([1n, 2n, 3n]);
    await sub.close();
  });

  test('1,000 subscriptions at once each receive exactly their own matches', async () => {
    const store = create();
    await store.saveMessages(
      'seed',
      Array.from({ length: 200 }, (_, i) => ev('Seed', { i })),
    );
    const subs = Array.from({ length: 1000 }, (_, i) =>
      i % 2 === 0
        ? store.subscribeToStream(`s-${i % 50}`)
        : store.subscribe({ afterPosition: 200n, filter: { messageNames: [`T${i % 10}`] } }),
    );
    const pulls = subs.map((s) => s.next());
    for (let k = 0; k < 50; k++) await store.saveMessage(`s-${k}`, ev(`T${k % 10}`, { k }));
    const got = await within(Promise.all(pulls), 20000, 'live');
    got.forEach((r: any, i: number) => {
      if (i % 2 === 0) expect([r.value.streamId, r.value.revision]).toEqual([`s-${i % 50}`, 0n]);
      else expect(r.value.message.type).toBe(`T${i % 10}`);
      // The first save of that name is k = i % 10 (position 201 + k).
      if (i % 2 === 1) expect(r.value.position).toBe(BigInt(201 + (i % 10)));
    });
    await Promise.all(subs.map((s) => s.close()));
  });

  test('expectedRevision modes: any, no_stream, stream_exists, and a revision as bigint or number', async () => {
    const store = create();
    await store.saveMessage('s', ev('A'), 'no_stream');
    await store.saveMessage('s', ev('B'), 'stream_exists');
    await store.saveMessage('s', ev('C'), 'any');
    await store.saveMessage('s', ev('D'), 2);
    await store.saveMessages('s', [ev('E'), ev('F')], 3n);
    const noStream = await store.saveMessage('s', ev('X'), 'no_stream').catch((e: any) => e);
    expect(noStream).toBeInstanceOf(ConcurrencyError);
    expect(noStream).not.toBeInstanceOf(WrongExpectedRevisionError);
    expect([noStream.name, noStream.message, noStream.streamId, noStream.expectedRevision, noStream.actualRevision]).toEqual([
      'ConcurrencyError',
      'Expected stream s not to exist, but it is at revision 5',
      's',
      'no_stream',
      5n,
    ]);
    const exists = await store.saveMessage('t', ev('X'), 'stream_exists').catch((e: any) => e);
    expect([exists.constructor.name, exists.message, exists.expectedRevision, exists.actualRevision]).toEqual([
      'ConcurrencyError',
      'Expected stream t to exist, but it has no messages',
      'stream_exists',
      -1n,
    ]);
    // Upstream's two texts are unchanged.
    await expect(store.saveMessage('t', ev('X'), 0n)).rejects.toThrow('Stream t does not exist, but expected revision 0 was provided');
    await expect(store.saveMessage('s', ev('X'), 1)).rejects.toThrow('Expected revision 1 but stream is at revision 5');
    await expect(store.saveMessage('s', ev('X'), 'latest' as any)).rejects.toThrow(
      "expectedRevision must be a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists', got the string \"latest\"",
    );
    // Refusals changed nothing.
    expect((await store.getMessages('s')).map((m: any) => m.message.type)).toEqual(['A', 'B', 'C', 'D', 'E', 'F']);
    expect(await store.getStreamInfo('t')).toBeNull();
    // A session's empty stream exists with no messages: no_stream passes, stream_exists does not.
    const session = await store.createSession();
    const empty = `session-${session}`;
    await expect(store.saveMessage(empty, ev('X'), 'stream_exists')).rejects.toThrow(
      `Expected stream ${empty} to exist, but it has no messages`,
    );
    await store.saveMessage(empty, ev('Y'), 'no_stream');
    expect((await store.getStreamInfo(empty)).revision).toBe(0n);
  });

  test('bad subscription options are refused in the call, with the argument named', () => {
    const store = create();
    expect(() => store.subscribe({ afterPosition: -1n })).toThrow(
      'options.afterPosition must be a bigint or a safe integer number, at least 0, got the bigint -1n',
    );
    expect(() => store.subscribe({ afterPosition: 1.5 })).toThrow(
      'options.afterPosition must be a bigint or a safe integer number, at least 0, got the number 1.5',
    );
    expect(() => store.subscribe({ filter: { messageNames: 'A' } })).toThrow(
      'filter.messageNames must be an array of strings, got the string "A"',
    );
    expect(() => store.subscribe({ signal: {} })).toThrow('options.signal must be an AbortSignal, got an object');
    expect(() => store.subscribe('all')).toThrow('options must be an object, got the string "all"');
    expect(() => store.subscribeToStream(7)).toThrow('streamId must be a string, got the number 7');
    expect(() => store.subscribeToStream('s', { afterRevision: -2 })).toThrow(
      'options.afterRevision must be a bigint or a safe integer number, at least -1, got the number -2',
    );
  });
});

test("the README's Subscriptions example (examples/subscriptions.mjs) prints what the README says", () => {
  const { execFileSync } = require('node:child_process');
  const path = require('node:path');
  const out = execFileSync(process.execPath, [path.join(__dirname, '../examples/subscriptions.mjs')], { encoding: 'utf8' });
  expect(out).toBe(
    [
      'caught up: revenue 42, last position 2',
      'live: revenue 50, last position 3',
      'resumed: order-1 at position 4',
      'order-1 revision 0: OrderPlaced',
      'order-1 revision 1: OrderShipped',
      '',
    ].join('\n'),
  );
  const readme = require('node:fs').readFileSync(path.join(__dirname, '../README.md'), 'utf8');
  const example = require('node:fs')
    .readFileSync(path.join(__dirname, '../examples/subscriptions.mjs'), 'utf8')
    .split('\n')
    .slice(3)
    .join('\n');
  expect(readme).toContain(example);
});
