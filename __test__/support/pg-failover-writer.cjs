// One writer process of the failover test: saves one message at a time, each awaited,
// to a stream of its own and, every third, to one stream all writers share, until a
// line `stop` arrives on stdin (or stdin ends). Prints one JSON line per settled save,
// `{ ack: true, w, s, k, t0, t }` once acknowledged or `{ ack: false, w, s, k, t0, t,
// code, message }` once rejected (t0: Date.now() at the call, t: when it settled), and
// `{ done: true, w }` once its store is disposed. Every save's `data.k` is a key no
// other save has, so that the test can count each one on the new primary.
const { PostgresMessageStore } = require('../../index.js');

const [url, schema, writer] = process.argv.slice(2);
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
  const store = new PostgresMessageStore({ connectionString: url, schema });
  for (let i = 0; !stopping; i++) {
    const s = i % 3 === 2 ? 'shared' : `own-${w}`;
    const k = `${w}:${i}`;
    const t0 = Date.now();
    try {
      await store.saveMessage(s, { type: 'Saved', data: { w, i, k } });
      say({ ack: true, w, s, k, t0, t: Date.now() });
    } catch (e) {
      // Not fatal: the next save tries again, as an application would.
      say({ ack: false, w, s, k, t0, t: Date.now(), code: e.code ?? null, message: e.message });
    }
  }
  await store.dispose();
  say({ done: true, w });
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
