'use strict';

// The writer of the read-only test (21.sqlite-read-only.test.ts), in a process of its own:
//   node read-only-writer.js <file>
// Opens the file as its one writer and holds it until stdin closes, doing what each
// line of stdin asks, one JSON object `{ id, op, ...args }`, and answering each on
// stdout, once the change's promise resolved: `{ id, value }` or `{ id, error }`. The
// first line out is `{"ready":true}`, once the file is open.
//   save      { stream, messages, messageType? }   saveMessages; value: null
//   burst     { stream, n }                        n single saves called together; value: null
//   session   {}                                   createSession; value: the id
//   end       { sessionId }                        endSession; value: null
//   reset     {}                                   reset; value: null
//   count     {}                                   value: getStats().totalMessages

const path = require('node:path');
const readline = require('node:readline');

const { SqliteMessageStore } = require(path.resolve(__dirname, '../..'));

const [file] = process.argv.slice(2);
const store = new SqliteMessageStore(file);

const ops = {
  save: async ({ stream, messages, messageType }) => {
    await store.saveMessages(stream, messages, undefined, messageType);
    return null;
  },
  burst: async ({ stream, n }) => {
    await Promise.all(Array.from({ length: n }, (_, i) => store.saveMessage(stream, { type: 'Burst', data: { i } })));
    return null;
  },
  session: async () => store.createSession(),
  end: async ({ sessionId }) => {
    await store.endSession(sessionId);
    return null;
  },
  reset: async () => {
    await store.reset();
    return null;
  },
  count: async () => (await store.getStats()).totalMessages,
};

const answer = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

// One line at a time, in order: each change is done before the next starts.
let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, op, ...args } = JSON.parse(line);
  chain = chain.then(async () => {
    try {
      answer({ id, value: await ops[op](args) });
    } catch (e) {
      answer({ id, error: String(e?.message ?? e) });
    }
  });
});
process.stdin.on('end', () => {
  chain.then(() => store.dispose()).then(() => process.exit(0));
});

answer({ ready: true });
