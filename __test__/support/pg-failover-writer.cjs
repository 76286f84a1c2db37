// One writer process of the failover test (argv: url, schema, writer number, and
// failoverTimeout in ms when not the default): saves in rounds until a line `stop`
// arrives on stdin (or stdin ends). Each round sends three calls together: one message
// to a stream of its own, one to a stream every writer shares and, every third round,
// a batch of two to the shared stream (so a group of saves, and a save of several
// messages, meet the switch too). Prints one JSON line per settled call:
// `{ ack: true, w, s, keys, t0, t }` once acknowledged or `{ ack: false, w, s, keys, t0,
// t, code, message }` once rejected (t0: Date.now() at the call, t: when it settled),
// and `{ done: true, w }` once its store is disposed. Every message's `data.k` is a key
// no other message has, so that the test can count each one on the new primary.
const { PostgresMessageStore } = require('../../index.js');

const [url, schema, writer, failoverTimeout] = process.argv.slice(2);
const w = Number(writer);
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

let stopping = false;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (text) => {
  if (text.includes('stop')) stopping = true;
});
process.stdin.on('end', () => {
  stopping = true;
});

(async () => {
  const store = new PostgresMessageStore({
    connectionString: url,
    schema,
    failoverTimeout: failoverTimeout === undefined ? undefined : Number(failoverTimeout),
  });
  for (let round = 0; !stopping; round++) {
    const calls = [
      [`own-${w}`, [`${w}:${round}:own`]],
      ['shared', [`${w}:${round}:shared`]],
    ];
    if (round % 3 === 2) calls.push(['shared', [`${w}:${round}:batch0`, `${w}:${round}:batch1`]]);
    await Promise.all(
      calls.map(async ([s, keys]) => {
        const messages = keys.map((k) => ({ type: 'Saved', data: { w, round, k } }));
        const t0 = Date.now();
        try {
          await (messages.length === 1 ? store.saveMessage(s, messages[0]) : store.saveMessages(s, messages));
          say({ ack: true, w, s, keys, t0, t: Date.now() });
        } catch (e) {
          // Not fatal: the next round tries again, as an application would.
          say({ ack: false, w, s, keys, t0, t: Date.now(), code: e.code ?? null, message: e.message });
        }
      }),
    );
  }
  await store.dispose();
  say({ done: true, w });
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
