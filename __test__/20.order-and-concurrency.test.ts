// docs/behaviour.md#order: every call takes effect inside the call, in call order.
import { WrongExpectedRevisionError } from '@auto-engineer/message-store';
import { stores } from './support/stores';

describe.each(stores)('$name: order and concurrency', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  test('50 un-awaited saves to a new stream with -1n: the first succeeds, 49 reject', async () => {
    const promises = Array.from({ length: 50 }, (_, i) => store.saveMessage('new-stream', { type: 'Try', data: { i } }, -1n));
    const results = await Promise.allSettled(promises);
    const fulfilled = results.filter((r) => r.status === 'fulfilled');
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(49);
    expect(results[0]).toEqual({ status: 'fulfilled', value: undefined });
    for (const r of rejected) {
      expect(r.reason).toBeInstanceOf(WrongExpectedRevisionError);
      expect(r.reason.message).toBe('Expected revision -1 but stream is at revision 0');
      expect(r.reason.actualRevision).toBe(0n);
    }
    const all = await store.getMessages('new-stream');
    expect(all.map((m: any) => [m.message.data.i, m.revision, m.position])).toEqual([[0, 0n, 1n]]);
    expect((await store.getStats()).totalMessages).toBe(1);
  });

  test('un-awaited saves with consecutive expected revisions all succeed', async () => {
    const promises = [-1n, 0n, 1n, 2n].map((rev, i) => store.saveMessage('s', { type: `M${i}` }, rev));
    await expect(Promise.all(promises)).resolves.toEqual([undefined, undefined, undefined, undefined]);
    expect((await store.getMessages('s')).map((m: any) => [m.message.type, m.revision])).toEqual([
      ['M0', 0n],
      ['M1', 1n],
      ['M2', 2n],
      ['M3', 3n],
    ]);
  });

  test('reads called right after an un-awaited save see it', async () => {
    const save = store.saveMessage('s', { type: 'A', data: { v: 1 } });
    const messages = store.getMessages('s');
    const all = store.getAllMessages();
    const info = store.getStreamInfo('s');
    const streams = store.getStreams();
    const stats = store.getStats();
    await save;
    expect((await messages).map((m: any) => m.message.type)).toEqual(['A']);
    expect(await all).toHaveLength(1);
    expect((await info).revision).toBe(0n);
    expect(await streams).toEqual(['s']);
    expect((await stats).totalMessages).toBe(1);
  });

  test('a read called before a save does not see it', async () => {
    const before = store.getMessages('s');
    const save = store.saveMessage('s', { type: 'A' });
    const statsAfter = store.getStats();
    await save;
    expect(await before).toEqual([]);
    expect((await statsAfter).totalMessages).toBe(1);
  });

  test('positions follow call order across streams', async () => {
    const order = ['a', 'b', 'c', 'a', 'b', 'a', 'c'];
    const promises = order.map((streamId, i) => store.saveMessage(streamId, { type: `T${i}` }));
    await Promise.all(promises);
    const all = await store.getAllMessages();
    expect(all.map((m: any) => [m.streamId, m.message.type, m.position, m.revision])).toEqual([
      ['a', 'T0', 1n, 0n],
      ['b', 'T1', 2n, 0n],
      ['c', 'T2', 3n, 0n],
      ['a', 'T3', 4n, 1n],
      ['b', 'T4', 5n, 1n],
      ['a', 'T5', 6n, 2n],
      ['c', 'T6', 7n, 1n],
    ]);
  });

  test('rejected calls in between do not disturb the order', async () => {
    const promises = [
      store.saveMessage('a', { type: 'One' }),
      store.saveMessage('a', { type: 'Bad', data: { n: 1n } }),
      store.saveMessage('a', { type: 'Stale' }, 5n),
      store.saveMessage('b', { type: 'Two' }),
    ];
    const results = await Promise.allSettled(promises);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    expect((results[2] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevisionError);
    expect((await store.getAllMessages()).map((m: any) => [m.message.type, m.position])).toEqual([
      ['One', 1n],
      ['Two', 2n],
    ]);
  });

  test('createSession, endSession and reset take effect inside the call', async () => {
    const created = store.createSession();
    const inSession = store.saveMessage('s', { type: 'In' });
    const id = await created;
    const ended = store.endSession(id);
    const outside = store.saveMessage('s', { type: 'Out' });
    await Promise.all([inSession, ended, outside]);
    expect((await store.getMessages('s')).map((m: any) => [m.message.type, m.sessionId])).toEqual([
      ['In', id],
      ['Out', 'no-session'],
    ]);
    const reset = store.reset();
    const afterReset = store.saveMessage('t', { type: 'Fresh' });
    await Promise.all([reset, afterReset]);
    expect((await store.getAllMessages()).map((m: any) => [m.streamId, m.position])).toEqual([['t', 1n]]);
  });

  test('two stores are independent', async () => {
    const other = create();
    await store.saveMessage('s', { type: 'A' });
    await other.saveMessage('s', { type: 'B' });
    expect((await store.getMessages('s')).map((m: any) => [m.message.type, m.position])).toEqual([['A', 1n]]);
    expect((await other.getMessages('s')).map((m: any) => [m.message.type, m.position])).toEqual([['B', 1n]]);
  });
});
