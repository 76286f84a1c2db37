// Errors have one list of codes and one text each. Rust holds the codes (`Code::ALL`
// in src/binding/error.rs) and JavaScript a copy (`CODES` in lib/errors.js); the two
// concurrency texts are built on both sides (JavaScript refuses most saves itself,
// from the revisions it keeps; the engine refuses the rest). These tests fail when
// the two sides disagree.
import { StreamNotFoundError, WrongExpectedRevisionError } from '../index.js';
import { storesOver } from './support/over-native';
import { tempDbPath } from './support/stores';

const native = require('../lib/native.js').load();
const { CODES, refusal } = require('../lib/errors.js');

test('JavaScript knows exactly the codes Rust has, by the same names', () => {
  expect(JSON.parse(native.errorCodes())).toEqual({ ...CODES });
  expect(Object.keys(CODES)).toHaveLength(19);
});

test("a concurrency refusal without the save's context (one of a group) keeps the engine's text and code", () => {
  const { fromNative } = require('../lib/errors.js');
  const e = fromNative({ code: CODES.StreamNotFound, message: 'Stream s does not exist, but expected revision 3 was provided' });
  expect([e.constructor.name, e.code, e.message]).toEqual([
    'Error',
    CODES.StreamNotFound,
    'Stream s does not exist, but expected revision 3 was provided',
  ]);
});

test("the numbers that cross the boundary are Rust's: expectation modes and message types (lib/wire.js)", () => {
  const wire = require('../lib/wire.js');
  const rust = native.wireCodes();
  expect(rust).toEqual({ noStream: -2, streamExists: -3, messageTypes: ['command', 'event'] });
  expect({ ...wire.EXPECTED_MODES }).toEqual({ no_stream: rust.noStream, stream_exists: rust.streamExists });
  expect([...wire.MESSAGE_TYPES]).toEqual(rust.messageTypes);
});

/** The error the engine itself throws for a save, with no JavaScript check first. */
function engineRefusal(stream: string, expected: number) {
  const store = native.create();
  native.save(store, JSON.stringify('orders'), JSON.stringify({ type: 'A' }), false, undefined, undefined, 0);
  try {
    native.save(store, JSON.stringify(stream), JSON.stringify({ type: 'B' }), false, expected, undefined, 0);
  } catch (e) {
    return e as Error & { code: string };
  }
  throw new Error('the engine accepted the save');
}

test.each([
  ['orders', 5, () => new WrongExpectedRevisionError('orders', 5n, 0n), CODES.WrongExpectedRevision],
  ['nowhere', 3, () => new StreamNotFoundError('nowhere', 3n), CODES.StreamNotFound],
  ['naïve "quoted" \u{1F600}', 3, () => new StreamNotFoundError('naïve "quoted" \u{1F600}', 3n), CODES.StreamNotFound],
  // The modes cross as -2 ('no_stream') and -3 ('stream_exists'), sharing the two codes.
  ['orders', -2, () => refusal('orders', 'no_stream', -2, 0), CODES.WrongExpectedRevision],
  ['nowhere', -3, () => refusal('nowhere', 'stream_exists', -3, null), CODES.StreamNotFound],
])('the engine and JavaScript word the refusal of %p at %p alike', (stream, expected, js, code) => {
  const e = engineRefusal(stream, expected);
  expect(e.code).toBe(code);
  expect(e.message).toBe(js().message);
});

test('a failed commit on the thread pool keeps its code to the caller', async () => {
  const testBuild = require('node:path').resolve(__dirname, '../.tmp/test-hooks/message-store.linux-x64-gnu.node');
  const real = require(testBuild);
  let handle: unknown;
  const { SqliteMessageStore: OverTestBuild } = storesOver({
    ...real,
    openSqlite: (...a: unknown[]) => (handle = real.openSqlite(...a)),
  });
  const store = new OverTestBuild(tempDbPath(), { durability: 'power' });
  await store.saveMessage('s', { type: 'A', data: {} });
  real.testLimitPages(handle, 1);
  const big = Array.from({ length: 500 }, (_, i) => ({ type: 'Big', data: { i, pad: 'x'.repeat(500) } }));
  const failed = store.saveMessages('s', big);
  await expect(failed).rejects.toMatchObject({ code: CODES.WriteFailed });
  await expect(failed).rejects.toThrow(/^message store write failed: .*database or disk is full/);
  await expect(store.saveMessage('s', { type: 'C' })).rejects.toMatchObject({ code: CODES.WriteFailed });
  await store.dispose();
});

// The engine checks each message again (a Proxy or a class instance reaches it
// unchecked by JavaScript); it sees JSON, not the value, so its text stops where
// JavaScript's adds ", got <value>".
test.each([
  ['a number among messages', [{ type: 'A' }, 5], '[{"type":"A"},5]'],
  ['a message without a type', [{ data: {} }], '[{"data":{}}]'],
  ['a timestamp that is not a Date', [{ type: 'A', timestamp: 5 }], '[{"type":"A","timestamp":5}]'],
])('the engine and JavaScript word %s alike', async (_what, messages, json) => {
  const { MemoryMessageStore } = require('../index.js');
  const js = await new MemoryMessageStore().saveMessages('s', messages as never).catch((e: Error) => e);
  expect(js).toBeInstanceOf(TypeError);
  let engine: Error | undefined;
  try {
    native.save(native.create(), JSON.stringify('s'), json, true, undefined, undefined, 0);
  } catch (e) {
    engine = e as Error;
  }
  expect((engine as Error & { code: string }).code).toBe(CODES.InvalidArgument);
  expect(engine?.message).toBe((js as Error).message.split(', got ')[0]);
});
