// A writer process of the cross-process subscription test: saves `count` messages to
// stream `w-<writer>`, one transaction each, then prints how many it saved.
const { PostgresMessageStore } = require('../../index.js');

const [url, schema, writer, count] = process.argv.slice(2);
(async () => {
  const store = new PostgresMessageStore({ connectionString: url, schema });
  for (let i = 0; i < Number(count); i++) await store.saveMessage(`w-${writer}`, { type: 'Written', data: { writer: Number(writer), i } });
  await store.dispose();
  process.stdout.write(String(count));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
