// docs/behaviour.md#reading-stream: getMessages(streamId, fromRevision?, count?).
import { stores } from './support/stores';

describe.each(stores)('$name: getMessages', ({ create }) => {
  let store: any;
  const revisions = async (...args: unknown[]) => (await store.getMessages(...args)).map((m: any) => m.revision);
  beforeEach(async () => {
    store = create();
    await store.saveMessage('s', { type: 'S0' });
    await store.saveMessage('other', { type: 'O0' });
    await store.saveMessages('s', [{ type: 'S1' }, { type: 'S2' }, { type: 'S3' }]);
    await store.saveMessage('other', { type: 'O1' });
    await store.saveMessage('s', { type: 'S4' });
  });

  test('returns only the stream messages, in revision order, with their global positions', async () => {
    const all = await store.getMessages('s');
    expect(Array.isArray(all)).toBe(true);
    expect(all.map((m: any) => [m.streamId, m.message.type, m.revision, m.position])).toEqual([
      ['s', 'S0', 0n, 1n],
      ['s', 'S1', 1n, 3n],
      ['s', 'S2', 2n, 4n],
      ['s', 'S3', 3n, 5n],
      ['s', 'S4', 4n, 7n],
    ]);
    expect((await store.getMessages('other')).map((m: any) => m.position)).toEqual([2n, 6n]);
  });

  test('an unknown stream gives [] and is not created', async () => {
    expect(await store.getMessages('nope')).toEqual([]);
    expect(await store.getMessages('nope', 0n, 5)).toEqual([]);
    expect(await store.getMessages('S')).toEqual([]);
    expect(await store.getMessages('s ')).toEqual([]);
    expect(await store.getStreams()).toEqual(['s', 'other']);
  });

  test('an empty stream gives []', async () => {
    await store.saveMessages('empty', []);
    expect(await store.getMessages('empty')).toEqual([]);
    expect(await store.getMessages('empty', -1n, 3)).toEqual([]);
  });

  test.each([
    ['undefined', undefined, [0n, 1n, 2n, 3n, 4n]],
    ['null', null, [0n, 1n, 2n, 3n, 4n]],
    ['0n', 0n, [0n, 1n, 2n, 3n, 4n]],
    ['2n', 2n, [2n, 3n, 4n]],
    ['2 (number)', 2, [2n, 3n, 4n]],
    ['4n', 4n, [4n]],
    ['5n (past the end)', 5n, []],
    ['-1n', -1n, [0n, 1n, 2n, 3n, 4n]],
    ['-5n', -5n, [0n, 1n, 2n, 3n, 4n]],
    ['-5 (number)', -5, [0n, 1n, 2n, 3n, 4n]],
    ['2n ** 70n', 2n ** 70n, []],
    ['-(2n ** 70n)', -(2n ** 70n), [0n, 1n, 2n, 3n, 4n]],
    ['Number.MAX_SAFE_INTEGER', Number.MAX_SAFE_INTEGER, []],
    ['2 ** 60 (an integer number beyond the safe range)', 2 ** 60, []],
  ])('fromRevision %s', async (_l, from, expected) => {
    expect(await revisions('s', from)).toEqual(expected);
  });

  test.each([
    [0n, 2, [3n, 4n]],
    [1n, 10, [1n, 2n, 3n, 4n]],
    [3n, 1, [4n]],
    [1n, 0, [1n, 2n, 3n, 4n]],
    [1n, 2.5, [3n, 4n]],
    [2n, -1, [2n, 3n, 4n]],
    [5n, 2, []],
    [undefined, 3, [2n, 3n, 4n]],
    [null, 1, [4n]],
  ])('fromRevision %p then the last count %p', async (from, count, expected) => {
    expect(await revisions('s', from, count)).toEqual(expected);
  });

  test.each([
    [1.5, 'the number 1.5'],
    [NaN, 'the number NaN'],
    [Infinity, 'the number Infinity'],
    ['1', 'the string "1"'],
    [true, 'a boolean'],
    [{}, 'an object'],
  ])('fromRevision %p is a TypeError', async (from, description) => {
    const p = store.getMessages('s', from);
    await expect(p).rejects.toBeInstanceOf(TypeError);
    await expect(p).rejects.toHaveProperty('message', `fromRevision must be a bigint or an integer number, got ${description}`);
  });

  test('stream ids are compared exactly', async () => {
    const names = ['', ' ', 'S', 's\n', 'ß', 'ss', '\ud800', '\udc00', '😀', '"', '\\', 'null', '{"a":1}'];
    for (const n of names) await store.saveMessage(n, { type: `T:${n}` });
    for (const n of names) {
      const got = await store.getMessages(n);
      expect(got.map((m: any) => [m.streamId, m.message.type])).toEqual([[n, `T:${n}`]]);
    }
  });
});
