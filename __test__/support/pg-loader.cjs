// A writer that saves until it is killed, printing each acknowledged save's key on a
// line of its own as soon as its promise resolves (the SIGKILL test reads them).
const { PostgresMessageStore } = require('../../index.js');

const [url, schema] = process.argv.slice(2);
const store = new PostgresMessageStore({ connectionString: url, schema });
(async () => {
  for (let i = 0; ; i++) {
    // Groups of 10 issued together, then one awaited alone: both paths are in flight when the kill comes.
    await Promise.all(
      Array.from({ length: 10 }, (_, j) => {
        const key = `${i}.${j}`;
        return store.saveMessage(`load-${j % 3}`, { type: 'Load', data: { key } }).then(() => process.stdout.write(`${key}\n`));
      }),
    );
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
