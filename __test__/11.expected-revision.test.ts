// docs/behaviour.md#writing-missing-stream to #writing-expected-revision, and the concurrency error classes.
import { ConcurrencyError, StreamNotFoundError, WrongExpectedRevisionError } from '@auto-engineer/message-store';
import { expectRejectedAndUnchanged, probe } from './support/helpers';
import { stores } from './support/stores';

async function caught(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('error classes', () => {
  test('ConcurrencyError extends Error; both concurrency errors extend it', () => {
    expect(typeof ConcurrencyError).toBe('function');
    expect(Object.getPrototypeOf(ConcurrencyError.prototype)).toBe(Error.prototype);
    expect(Object.getPrototypeOf(StreamNotFoundError.prototype)).toBe(ConcurrencyError.prototype);
    expect(Object.getPrototypeOf(WrongExpectedRevisionError.prototype)).toBe(ConcurrencyError.prototype);
  });
});

describe.each(stores)('$name: expectedRevision', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  describe('unknown stream', () => {
    test('an expected revision other than -1 rejects with StreamNotFoundError and creates nothing', async () => {
      const e = await caught(store.saveMessage('orders-1', { type: 'A' }, 0n));
      expect(e).toBeInstanceOf(StreamNotFoundError);
      expect(e).toBeInstanceOf(ConcurrencyError);
      expect(e).toBeInstanceOf(Error);
      expect(e).not.toBeInstanceOf(TypeError);
      expect(e.name).toBe('StreamNotFoundError');
      expect(e.message).toBe('Stream orders-1 does not exist, but expected revision 0 was provided');
      expect(e.streamId).toBe('orders-1');
      expect(e.expectedRevision).toBe(0n);
      expect(e.actualRevision).toBe(-1n);
      expect(await store.getStreams()).toEqual([]);
      expect(await store.getStreamInfo('orders-1')).toBeNull();
      expect((await probe(store)).position).toBe(1n);
    });

    test('saveMessages with an empty array and an expected revision also rejects and creates nothing', async () => {
      const e = await caught(store.saveMessages('s', [], 3n));
      expect(e).toBeInstanceOf(StreamNotFoundError);
      expect(e.message).toBe('Stream s does not exist, but expected revision 3 was provided');
      expect(await store.getStreams()).toEqual([]);
    });

    test('a number expected revision is printed as given and stored as a bigint', async () => {
      const e = await caught(store.saveMessage('s', { type: 'A' }, 7));
      expect(e).toBeInstanceOf(StreamNotFoundError);
      expect(e.message).toBe('Stream s does not exist, but expected revision 7 was provided');
      expect(e.expectedRevision).toBe(7n);
      expect(e.actualRevision).toBe(-1n);
    });

    test('a bigint beyond the safe range is printed and kept exactly', async () => {
      const big = 2n ** 70n;
      const e = await caught(store.saveMessage('s', { type: 'A' }, big));
      expect(e).toBeInstanceOf(StreamNotFoundError);
      expect(e.message).toBe('Stream s does not exist, but expected revision 1180591620717411303424 was provided');
      expect(e.expectedRevision).toBe(big);
    });

    test('the stream id is printed as given (quotes, newlines, unicode)', async () => {
      const id = 'a "b"\n\\c 😀';
      const e = await caught(store.saveMessage(id, { type: 'A' }, 1n));
      expect(e.message).toBe(`Stream ${id} does not exist, but expected revision 1 was provided`);
      expect(e.streamId).toBe(id);
    });

    test.each([
      ['-1n', -1n],
      ['-1', -1],
    ])('expected revision %s creates the stream and saves', async (_l, rev) => {
      await store.saveMessage('s', { type: 'A' }, rev);
      const [m] = await store.getMessages('s');
      expect([m.revision, m.position]).toEqual([0n, 1n]);
    });

    test('expected revision -1n with an empty array creates the empty stream', async () => {
      await store.saveMessages('s', [], -1n);
      expect(await store.getStreams()).toEqual(['s']);
      expect((await store.getStreamInfo('s')).revision).toBe(-1n);
    });
  });

  describe('existing stream', () => {
    test.each([
      ['0n', 0n],
      ['0', 0],
      ['-0', -0],
    ])('expected revision %s on a stream at 0n succeeds', async (_l, rev) => {
      await store.saveMessage('s', { type: 'A' });
      await store.saveMessage('s', { type: 'B' }, rev);
      expect((await store.getMessages('s')).map((m: any) => m.revision)).toEqual([0n, 1n]);
    });

    test('a batch with the right expected revision continues the stream', async () => {
      await store.saveMessages('s', [{ type: 'A' }, { type: 'B' }], -1n);
      await store.saveMessages('s', [{ type: 'C' }, { type: 'D' }], 1n);
      await store.saveMessages('s', [], 3n);
      await store.saveMessage('s', { type: 'E' }, 3n);
      expect((await store.getMessages('s')).map((m: any) => [m.message.type, m.revision])).toEqual([
        ['A', 0n],
        ['B', 1n],
        ['C', 2n],
        ['D', 3n],
        ['E', 4n],
      ]);
    });

    test('a wrong expected revision rejects with WrongExpectedRevisionError and changes nothing', async () => {
      await store.saveMessages('s', [{ type: 'A' }, { type: 'B' }]);
      const before = await expectRejectedAndUnchanged(
        store,
        () => store.saveMessage('s', { type: 'C' }, 0n),
        WrongExpectedRevisionError,
        'Expected revision 0 but stream is at revision 1',
      );
      expect(before.stats.totalMessages).toBe(2);
      const e = await caught(store.saveMessage('s', { type: 'C' }, 0n));
      expect(e).toBeInstanceOf(ConcurrencyError);
      expect(e).toBeInstanceOf(Error);
      expect(e).not.toBeInstanceOf(TypeError);
      expect(e).not.toBeInstanceOf(StreamNotFoundError);
      expect(e.name).toBe('WrongExpectedRevisionError');
      expect(e.streamId).toBe('s');
      expect(e.expectedRevision).toBe(0n);
      expect(e.actualRevision).toBe(1n);
      expect((await probe(store)).position).toBe(3n);
    });

    test.each([
      [-1n, 'Expected revision -1 but stream is at revision 0'],
      [-1, 'Expected revision -1 but stream is at revision 0'],
      [1n, 'Expected revision 1 but stream is at revision 0'],
      [5, 'Expected revision 5 but stream is at revision 0'],
      [2n ** 64n, 'Expected revision 18446744073709551616 but stream is at revision 0'],
      [Number.MAX_SAFE_INTEGER, 'Expected revision 9007199254740991 but stream is at revision 0'],
    ])('expected %p on a stream at 0n: "%s"', async (rev, text) => {
      await store.saveMessage('s', { type: 'A' });
      const e = await caught(store.saveMessage('s', { type: 'B' }, rev));
      expect(e).toBeInstanceOf(WrongExpectedRevisionError);
      expect(e.message).toBe(text);
      expect(e.expectedRevision).toBe(BigInt(rev));
      expect(e.actualRevision).toBe(0n);
      expect(await store.getMessages('s')).toHaveLength(1);
    });

    test('an empty batch with a wrong expected revision rejects', async () => {
      await store.saveMessage('s', { type: 'A' });
      const e = await caught(store.saveMessages('s', [], 4n));
      expect(e).toBeInstanceOf(WrongExpectedRevisionError);
      expect(e.message).toBe('Expected revision 4 but stream is at revision 0');
    });

    test('on an existing empty stream, -1n succeeds and 0n rejects with actual revision -1n', async () => {
      await store.saveMessages('s', []);
      const e = await caught(store.saveMessage('s', { type: 'A' }, 0n));
      expect(e).toBeInstanceOf(WrongExpectedRevisionError);
      expect(e.message).toBe('Expected revision 0 but stream is at revision -1');
      expect(e.actualRevision).toBe(-1n);
      expect(e.expectedRevision).toBe(0n);
      await store.saveMessage('s', { type: 'A' }, -1n);
      const [m] = await store.getMessages('s');
      expect([m.revision, m.position]).toEqual([0n, 1n]);
    });

    test('the empty session stream made by createSession accepts -1n', async () => {
      const id = await store.createSession();
      await store.saveMessage(`session-${id}`, { type: 'A' }, -1n);
      const [m] = await store.getMessages(`session-${id}`);
      expect([m.streamId, m.revision, m.position, m.sessionId]).toEqual([`session-${id}`, 0n, 1n, id]);
    });

    test('expected revision undefined skips the check', async () => {
      await store.saveMessage('s', { type: 'A' });
      await store.saveMessage('s', { type: 'B' }, undefined);
      await store.saveMessages('s', [{ type: 'C' }], undefined, undefined);
      expect(await store.getMessages('s')).toHaveLength(3);
    });
  });

  describe('a bad expectedRevision is a TypeError and changes nothing', () => {
    const prefix = `expectedRevision must be a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists', got `;
    test.each([
      [null, 'null'],
      [1.5, 'the number 1.5'],
      [NaN, 'the number NaN'],
      [Infinity, 'the number Infinity'],
      [-Infinity, 'the number -Infinity'],
      ['0', 'the string "0"'],
      ['-1', 'the string "-1"'],
      [-2, 'the number -2'],
      [-2n, 'the bigint -2n'],
      [2 ** 53, 'the number 9007199254740992'],
      [true, 'a boolean'],
      [{}, 'an object'],
      [[0], 'an array'],
    ])('%p', async (rev, description) => {
      await store.saveMessage('s', { type: 'A' });
      await expectRejectedAndUnchanged(store, () => store.saveMessage('s', { type: 'B' }, rev), TypeError, prefix + description);
      await expectRejectedAndUnchanged(store, () => store.saveMessages('new', [{ type: 'B' }], rev), TypeError, prefix + description);
      expect((await probe(store)).position).toBe(2n);
    });
  });
});
