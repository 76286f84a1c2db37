// docs/behaviour.md#reading-all and #reading-filters: getAllMessages / getAllCommands / getAllEvents and every filter field.

import { POSITIONAL_KEYS, tick } from './support/helpers';
import { stores } from './support/stores';

describe.each(stores)('$name: getAllMessages filters', ({ create }) => {
  let store: any;
  let session1: string;
  let session2: string;
  let times: number[]; // save time of positions 1..8 (index = position - 1)
  const types = (list: any[]) => list.map((m) => m.message.type);

  // Positions:
  // 1 orders-1   P1 command  no-session  req r1 corr c1
  // 2 orders-2   P2 event    session1           corr c1
  // 3 orders-1   P3 command  session1    req r2 corr c2
  // 4 user-events P4 event   session1    req r3
  // 5 orders-1   P5 event    session2                    (messageType argument)
  // 6 orders-2   P1 command  session2    req r1 corr c2
  // 7 orders-1   P7 event    no-session         corr c1
  // 8 orders-2   P8 event    no-session  req ''  corr ''
  beforeEach(async () => {
    store = create();
    await store.saveMessage('orders-1', { type: 'P1', data: {}, requestId: 'r1', correlationId: 'c1' });
    await tick();
    session1 = await store.createSession();
    await store.saveMessage('orders-2', { type: 'P2', data: {}, correlationId: 'c1' });
    await tick();
    await store.saveMessage('orders-1', { type: 'P3', data: {}, requestId: 'r2', correlationId: 'c2' });
    await tick();
    await store.saveMessage('user-events', { type: 'P4', data: {}, requestId: 'r3' });
    await tick();
    session2 = await store.createSession();
    await store.saveMessage('orders-1', { type: 'P5', data: {}, requestId: 'r9' }, undefined, 'event');
    await tick();
    await store.saveMessage('orders-2', { type: 'P1', data: {}, requestId: 'r1', correlationId: 'c2' });
    await store.endSession(session2);
    await tick();
    await store.saveMessage('orders-1', { type: 'P7', data: {}, correlationId: 'c1' });
    await tick();
    await store.saveMessage('orders-2', { type: 'P8', data: {}, requestId: '', correlationId: '' });
    times = (await store.getAllMessages()).map((m: any) => m.timestamp.getTime());
  });

  const positions = (list: any[]) => list.map((m) => Number(m.position));

  test('no filter, undefined, null and {} give every message in position order', async () => {
    for (const f of [undefined, null, {}]) {
      expect(positions(await store.getAllMessages(f))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
    expect(positions(await store.getAllMessages())).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('every message comes back whole', async () => {
    const all = await store.getAllMessages();
    for (const m of all) {
      expect(Object.keys(m)).toEqual(POSITIONAL_KEYS);
      expect(Object.keys(m.message)).toEqual([...Object.keys(m.message).filter((k) => k !== 'timestamp'), 'timestamp']);
    }
    expect(Object.keys(all[2].message)).toEqual(['type', 'data', 'requestId', 'correlationId', 'timestamp']);
    expect(all[2]).toEqual({
      streamId: 'orders-1',
      message: { type: 'P3', data: {}, requestId: 'r2', correlationId: 'c2', timestamp: new Date(times[2]) },
      messageType: 'command',
      revision: 1n,
      position: 3n,
      timestamp: new Date(times[2]),
      sessionId: session1,
    });
  });

  test('messageType', async () => {
    expect(positions(await store.getAllMessages({ messageType: 'command' }))).toEqual([1, 3, 6]);
    expect(positions(await store.getAllMessages({ messageType: 'event' }))).toEqual([2, 4, 5, 7, 8]);
    expect(positions(await store.getAllMessages({ messageType: undefined }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(positions(await store.getAllMessages({ messageType: null }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('getAllCommands / getAllEvents force the type, whatever the filter says', async () => {
    expect(positions(await store.getAllCommands())).toEqual([1, 3, 6]);
    expect(positions(await store.getAllEvents())).toEqual([2, 4, 5, 7, 8]);
    expect(positions(await store.getAllCommands({ messageType: 'event' }))).toEqual([1, 3, 6]);
    expect(positions(await store.getAllEvents({ messageType: 'command' }))).toEqual([2, 4, 5, 7, 8]);
    expect(positions(await store.getAllCommands({ streamId: 'orders-1' }))).toEqual([1, 3]);
    expect(positions(await store.getAllEvents({ streamId: 'orders-1' }))).toEqual([5, 7]);
    expect(positions(await store.getAllCommands(null))).toEqual([1, 3, 6]);
    expect(positions(await store.getAllEvents({}, 2))).toEqual([7, 8]);
  });

  test('messageNames: contains message.type; an empty list is ignored', async () => {
    expect(positions(await store.getAllMessages({ messageNames: ['P1'] }))).toEqual([1, 6]);
    expect(positions(await store.getAllMessages({ messageNames: ['P7', 'P2', 'Nope'] }))).toEqual([2, 7]);
    expect(positions(await store.getAllMessages({ messageNames: [] }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(positions(await store.getAllMessages({ messageNames: null }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await store.getAllMessages({ messageNames: ['p1', 'P', 'P1 '] })).toEqual([]);
    expect(positions(await store.getAllCommands({ messageNames: ['P1', 'P2'] }))).toEqual([1, 6]);
  });

  test('streamId: equal; ignored when undefined, null or empty', async () => {
    expect(positions(await store.getAllMessages({ streamId: 'orders-2' }))).toEqual([2, 6, 8]);
    expect(positions(await store.getAllMessages({ streamId: 'user-events' }))).toEqual([4]);
    expect(await store.getAllMessages({ streamId: 'orders' })).toEqual([]);
    expect(await store.getAllMessages({ streamId: 'Orders-1' })).toEqual([]);
    for (const ignored of [undefined, null, '']) {
      expect(positions(await store.getAllMessages({ streamId: ignored }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  test("sessionId: equal; 'no-session' selects messages saved outside a session; ignored when empty", async () => {
    expect(positions(await store.getAllMessages({ sessionId: session1 }))).toEqual([2, 3, 4]);
    expect(positions(await store.getAllMessages({ sessionId: session2 }))).toEqual([5, 6]);
    expect(positions(await store.getAllMessages({ sessionId: 'no-session' }))).toEqual([1, 7, 8]);
    expect(await store.getAllMessages({ sessionId: 'session-unknown' })).toEqual([]);
    for (const ignored of [undefined, null, '']) {
      expect(positions(await store.getAllMessages({ sessionId: ignored }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  test('correlationId and requestId compare with the message fields; ignored when empty', async () => {
    expect(positions(await store.getAllMessages({ correlationId: 'c1' }))).toEqual([1, 2, 7]);
    expect(positions(await store.getAllMessages({ correlationId: 'c2' }))).toEqual([3, 6]);
    expect(positions(await store.getAllMessages({ requestId: 'r1' }))).toEqual([1, 6]);
    expect(positions(await store.getAllMessages({ requestId: 'r9' }))).toEqual([5]);
    expect(await store.getAllMessages({ requestId: 'c1' })).toEqual([]);
    expect(await store.getAllMessages({ correlationId: 'r1' })).toEqual([]);
    for (const ignored of [undefined, null, '']) {
      expect(positions(await store.getAllMessages({ correlationId: ignored, requestId: ignored }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
  });

  test('correlationId / requestId match strings only (=== semantics)', async () => {
    await store.saveMessage('x', { type: 'Num', correlationId: 5, requestId: 7 });
    expect(await store.getAllMessages({ correlationId: '5' })).toEqual([]);
    expect(await store.getAllMessages({ requestId: '7' })).toEqual([]);
  });

  test('fromPosition and toPosition are inclusive bounds, bigint or integer number', async () => {
    expect(positions(await store.getAllMessages({ fromPosition: 3n }))).toEqual([3, 4, 5, 6, 7, 8]);
    expect(positions(await store.getAllMessages({ toPosition: 3n }))).toEqual([1, 2, 3]);
    expect(positions(await store.getAllMessages({ fromPosition: 3n, toPosition: 5n }))).toEqual([3, 4, 5]);
    expect(positions(await store.getAllMessages({ fromPosition: 4, toPosition: 4 }))).toEqual([4]);
    expect(await store.getAllMessages({ fromPosition: 6n, toPosition: 5n })).toEqual([]);
    expect(positions(await store.getAllMessages({ fromPosition: 0n }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(positions(await store.getAllMessages({ fromPosition: -10n, toPosition: 100 }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await store.getAllMessages({ fromPosition: 9n })).toEqual([]);
    expect(await store.getAllMessages({ toPosition: 0n })).toEqual([]);
    expect(await store.getAllMessages({ fromPosition: 2n ** 80n })).toEqual([]);
    expect(positions(await store.getAllMessages({ toPosition: 2n ** 80n }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await store.getAllMessages({ toPosition: -(2n ** 80n) })).toEqual([]);
    expect(positions(await store.getAllMessages({ fromPosition: null, toPosition: undefined }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('fromTimestamp and toTimestamp are inclusive bounds on the save time', async () => {
    const at = (p: number) => new Date(times[p - 1]);
    expect(positions(await store.getAllMessages({ fromTimestamp: at(4) }))).toEqual([4, 5, 6, 7, 8]);
    expect(positions(await store.getAllMessages({ fromTimestamp: new Date(times[3] + 1) }))).toEqual(
      [5, 6, 7, 8].filter((p) => times[p - 1] >= times[3] + 1),
    );
    expect(positions(await store.getAllMessages({ toTimestamp: at(3) }))).toEqual([1, 2, 3]);
    expect(positions(await store.getAllMessages({ toTimestamp: new Date(times[2] - 1) }))).toEqual([1, 2]);
    expect(positions(await store.getAllMessages({ fromTimestamp: at(2), toTimestamp: at(4) }))).toEqual([2, 3, 4]);
    expect(positions(await store.getAllMessages({ fromTimestamp: at(8), toTimestamp: at(8) }))).toEqual([8]);
    expect(await store.getAllMessages({ fromTimestamp: at(5), toTimestamp: at(4) })).toEqual([]);
    expect(await store.getAllMessages({ fromTimestamp: new Date(Date.now() + 60_000) })).toEqual([]);
    expect(positions(await store.getAllMessages({ fromTimestamp: new Date(0), toTimestamp: new Date(8.64e15) }))).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(positions(await store.getAllMessages({ fromTimestamp: new Date(-8.64e15) }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(positions(await store.getAllMessages({ fromTimestamp: new Date(-1000) }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await store.getAllMessages({ toTimestamp: new Date(-1) })).toEqual([]);
    expect(await store.getAllMessages({ toTimestamp: new Date(-8.64e15) })).toEqual([]);
    expect(await store.getAllMessages({ fromTimestamp: new Date(8.64e15) })).toEqual([]);
    expect(positions(await store.getAllMessages({ fromTimestamp: null, toTimestamp: undefined }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('the time filters use the save time, not message.timestamp', async () => {
    const old = new Date('2000-01-01T00:00:00.000Z');
    await tick();
    await store.saveMessage('dated', { type: 'Old', timestamp: old });
    expect(types(await store.getAllMessages({ toTimestamp: new Date('2001-01-01T00:00:00.000Z') }))).toEqual([]);
    expect(types(await store.getAllMessages({ fromTimestamp: new Date(times[7] + 1) }))).toEqual(['Old']);
  });

  test('all given fields must hold together', async () => {
    expect(
      positions(
        await store.getAllMessages({
          messageType: 'command',
          messageNames: ['P1', 'P3'],
          streamId: 'orders-2',
          sessionId: session2,
          correlationId: 'c2',
          requestId: 'r1',
          fromPosition: 6n,
          toPosition: 6n,
          fromTimestamp: new Date(times[5]),
          toTimestamp: new Date(times[5]),
          jsonFilter: {},
        }),
      ),
    ).toEqual([6]);
    expect(await store.getAllMessages({ streamId: 'orders-1', sessionId: session1, messageType: 'event' })).toEqual([]);
    expect(positions(await store.getAllMessages({ streamId: 'orders-1', correlationId: 'c1' }))).toEqual([1, 7]);
    expect(positions(await store.getAllMessages({ streamId: 'orders-1', correlationId: 'c1' }, 1))).toEqual([7]);
  });

  test('the forced fields replace what the filter gives, even a bad value', async () => {
    expect(positions(await store.getAllCommands({ messageType: 'x' }))).toEqual([1, 3, 6]);
    expect(positions(await store.getAllEvents({ messageType: 5 }))).toEqual([2, 4, 5, 7, 8]);
    expect(positions(await store.getSessionMessages(session1, { sessionId: 5 }))).toEqual([2, 3, 4]);
    expect(positions(await store.getSessionMessages(session1, { sessionId: session2 }))).toEqual([2, 3, 4]);
  });

  test('unknown filter keys are ignored', async () => {
    expect(positions(await store.getAllMessages({ nope: 1, limit: 2 }))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('filter values with unusual text match exactly', async () => {
    const names = ['a "b"', 'back\\slash', 'new\nline', '\ud800lone', '😀', 'ünï'];
    for (const n of names) {
      await store.saveMessage(n, { type: n, data: {}, requestId: n, correlationId: n });
    }
    for (const n of names) {
      expect(types(await store.getAllMessages({ streamId: n }))).toEqual([n]);
      expect(types(await store.getAllMessages({ messageNames: [n] }))).toEqual([n]);
      expect(types(await store.getAllMessages({ requestId: n }))).toEqual([n]);
      expect(types(await store.getAllMessages({ correlationId: n }))).toEqual([n]);
    }
    expect(await store.getAllMessages({ streamId: '\ud800' })).toEqual([]);
    expect(await store.getAllMessages({ streamId: '\udc00lone' })).toEqual([]);
  });

  test.each([
    [{ messageType: 'x' }, `filter.messageType must be 'command' or 'event', got the string "x"`],
    [{ messageType: '' }, `filter.messageType must be 'command' or 'event', got the string ""`],
    [{ messageNames: 'A' }, 'filter.messageNames must be an array of strings, got the string "A"'],
    [{ messageNames: ['A', 1] }, 'filter.messageNames must be an array of strings, got an array'],
    [{ streamId: 5 }, 'filter.streamId must be a string, got the number 5'],
    [{ sessionId: 5 }, 'filter.sessionId must be a string, got the number 5'],
    [{ correlationId: true }, 'filter.correlationId must be a string, got a boolean'],
    [{ requestId: {} }, 'filter.requestId must be a string, got an object'],
    [{ fromPosition: '1' }, 'filter.fromPosition must be a bigint or an integer number, got the string "1"'],
    [{ toPosition: 1.5 }, 'filter.toPosition must be a bigint or an integer number, got the number 1.5'],
    [{ fromTimestamp: 5 }, 'filter.fromTimestamp must be a valid Date, got the number 5'],
    [{ toTimestamp: new Date(NaN) }, 'filter.toTimestamp must be a valid Date, got a Date'],
    [{ fromTimestamp: '2020-01-01' }, 'filter.fromTimestamp must be a valid Date, got the string "2020-01-01"'],
    [{ jsonFilter: [] }, 'filter.jsonFilter must be an object, got an array'],
    [{ jsonFilter: 'x' }, 'filter.jsonFilter must be an object, got the string "x"'],
  ])('filter %p is a TypeError: %s', async (filter, text) => {
    // getAllCommands / getAllEvents replace messageType, getSessionMessages replaces sessionId
    // (upstream's `{ ...filter, messageType }`), so those are checked only where they count.
    const calls = [() => store.getAllMessages(filter)];
    if (!('messageType' in filter))
      calls.push(
        () => store.getAllCommands(filter),
        () => store.getAllEvents(filter),
      );
    if (!('sessionId' in filter)) calls.push(() => store.getSessionMessages(session1, filter));
    for (const call of calls) {
      const p = call();
      await expect(p).rejects.toBeInstanceOf(TypeError);
      await expect(p).rejects.toHaveProperty('message', text);
    }
  });

  test.each([
    ['x', 'filter must be an object, got the string "x"'],
    [5, 'filter must be an object, got the number 5'],
    [[], 'filter must be an object, got an array'],
    [true, 'filter must be an object, got a boolean'],
  ])('filter %p itself is a TypeError', async (filter, text) => {
    const p = store.getAllMessages(filter);
    await expect(p).rejects.toBeInstanceOf(TypeError);
    await expect(p).rejects.toHaveProperty('message', text);
  });
});
