// One writer process of the multi-process test: `each` saves to its own stream, to a
// stream every writer shares, and, with the expected revision it just read, to
// another shared one (so some lose). Prints what was acknowledged and refused.
const { PostgresMessageStore, WrongExpectedRevisionError } = require('../../index.js');

const [url, schema, writer, each] = process.argv.slice(2);
(async () => {
  const store = new PostgresMessageStore({ connectionString: url, schema });
  let acked = 0;
  let conflicts = 0;
  for (let i = 0; i < Number(each); i++) {
    const data = { writer: Number(writer), i };
    if (i % 3 === 0) await store.saveMessage(`own-${writer}`, { type: 'Own', data });
    else if (i % 3 === 1) await store.saveMessage('together', { type: 'Together', data });
    else {
      const info = await store.getStreamInfo('shared');
      try {
        await store.saveMessage('shared', { type: 'Checked', data }, info === null ? -1n : info.revision);
      } catch (e) {
        if (!(e instanceof WrongExpectedRevisionError) && e.constructor.name !== 'StreamNotFoundError') throw e;
        conflicts += 1;
        continue;
      }
    }
    acked += 1;
  }
  await store.dispose();
  process.stdout.write(JSON.stringify({ acked, conflicts }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
