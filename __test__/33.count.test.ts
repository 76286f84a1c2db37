// docs/behaviour.md#reading-count: count keeps the last `count` messages when it is a number > 0
// (as upstream's slice(-count)); NaN, 0 and negatives are ignored.
import { stores } from './support/stores';

const cases: Array<[string, unknown, number[]]> = [
  ['undefined', undefined, [1, 2, 3, 4, 5]],
  ['null', null, [1, 2, 3, 4, 5]],
  ['1', 1, [5]],
  ['2', 2, [4, 5]],
  ['2.5', 2.5, [4, 5]],
  ['4.999', 4.999, [2, 3, 4, 5]],
  ['1.0001', 1.0001, [5]],
  ['0.5', 0.5, [1, 2, 3, 4, 5]],
  ['Number.MIN_VALUE', Number.MIN_VALUE, [1, 2, 3, 4, 5]],
  ['5', 5, [1, 2, 3, 4, 5]],
  ['6', 6, [1, 2, 3, 4, 5]],
  ['2 ** 40', 2 ** 40, [1, 2, 3, 4, 5]],
  ['Number.MAX_VALUE', Number.MAX_VALUE, [1, 2, 3, 4, 5]],
  ['Infinity', Infinity, [1, 2, 3, 4, 5]],
  ['NaN', NaN, [1, 2, 3, 4, 5]],
  ['0', 0, [1, 2, 3, 4, 5]],
  ['-0', -0, [1, 2, 3, 4, 5]],
  ['-1', -1, [1, 2, 3, 4, 5]],
  ['-2.5', -2.5, [1, 2, 3, 4, 5]],
  ['-Infinity', -Infinity, [1, 2, 3, 4, 5]],
];

const badCounts: Array<[unknown, string]> = [
  ['5', 'count must be a number, got the string "5"'],
  ['', 'count must be a number, got the string ""'],
  [5n, 'count must be a number, got the bigint 5n'],
  [true, 'count must be a number, got a boolean'],
  [{}, 'count must be a number, got an object'],
  [[2], 'count must be a number, got an array'],
];

describe.each(stores)('$name: count', ({ create }) => {
  let store: any;
  let sessionId: string;
  const positions = (list: any[]) => list.map((m) => Number(m.position));
  beforeEach(async () => {
    store = create();
    sessionId = await store.createSession();
    await store.saveMessages(
      'events-1',
      [1, 2, 3, 4, 5].map((i) => ({ type: `T${i}` })),
    );
    await store.saveMessages(
      'commands-1',
      [6, 7, 8, 9, 10].map((i) => ({ type: `T${i}` })),
    );
  });

  test.each(cases)('count %s on getMessages', async (_l, count, expected) => {
    expect(positions(await store.getMessages('events-1', undefined, count))).toEqual(expected);
  });

  test.each(cases)('count %s on getAllMessages, getAllEvents, getAllCommands, getSessionMessages', async (_l, count, expected) => {
    expect(positions(await store.getAllMessages({ streamId: 'events-1' }, count))).toEqual(expected);
    expect(positions(await store.getAllEvents(undefined, count))).toEqual(expected);
    expect(positions(await store.getAllCommands(undefined, count))).toEqual(expected.map((p) => p + 5));
    expect(positions(await store.getSessionMessages(sessionId, { streamId: 'events-1' }, count))).toEqual(expected);
  });

  test('count applies after the filter: the last N of the matching messages', async () => {
    expect(positions(await store.getAllMessages(undefined, 3))).toEqual([8, 9, 10]);
    expect(positions(await store.getAllMessages({ messageNames: ['T1', 'T3', 'T8'] }, 2))).toEqual([3, 8]);
    expect(positions(await store.getAllEvents({ toPosition: 4n }, 2))).toEqual([3, 4]);
    expect(positions(await store.getSessionMessages(sessionId, { messageNames: ['T2', 'T4', 'T9'] }, 2))).toEqual([4, 9]);
    expect(positions(await store.getMessages('commands-1', 1n, 2))).toEqual([9, 10]);
  });

  test.each(badCounts)('count %p is a TypeError on every method', async (count, text) => {
    const calls = [
      store.getMessages('events-1', undefined, count),
      store.getAllMessages(undefined, count),
      store.getAllCommands(undefined, count),
      store.getAllEvents(undefined, count),
      store.getSessionMessages(sessionId, undefined, count),
    ];
    for (const p of calls) {
      await expect(p).rejects.toBeInstanceOf(TypeError);
      await expect(p).rejects.toHaveProperty('message', text);
    }
  });
});
