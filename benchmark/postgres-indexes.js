'use strict';

// `node benchmark/postgres-indexes.js` (not part of `pnpm bench`): what each index of
// PostgreSQL's `messages` table costs a write, to choose which to keep
// (docs/benchmark.md#postgres-indexes). 100,000 rows of the bench's shape (1,000
// streams, 1,000 correlation ids) inserted in batches of 1,000 into a table with the
// position key and (stream, revision) plus one more index, against none more.
const { Client } = require('pg');
(async () => {
  const { startPostgres } = await import('../__test__/support/postgres-server.mjs');
  const server = await startPostgres();
  const c = new Client({ connectionString: server.url });
  await c.connect();
  const candidates = {
    'none more': [],
    type: ['CREATE INDEX ON t (type, position)'],
    correlation: ['CREATE INDEX ON t (correlation_id, position) WHERE correlation_id IS NOT NULL'],
    request: ['CREATE INDEX ON t (request_id, position) WHERE request_id IS NOT NULL'],
    kind: ['CREATE INDEX ON t (kind, position)'],
    session: ['CREATE INDEX ON t (session, position)'],
    time: ['CREATE INDEX ON t (time, position)'],
    'data jsonb + GIN': ['ALTER TABLE t ADD COLUMN data jsonb', 'CREATE INDEX ON t USING gin (data jsonb_path_ops)'],
  };
  const results = {};
  for (let round = 0; round < 3; round++) {
    for (const [name, extra] of Object.entries(candidates)) {
      await c.query('DROP TABLE IF EXISTS t');
      await c.query(
        `CREATE TABLE t (position bigint PRIMARY KEY, stream text NOT NULL, revision bigint NOT NULL, kind smallint NOT NULL, type text NOT NULL, time bigint NOT NULL, session text NOT NULL, correlation_id text, request_id text, body text NOT NULL, UNIQUE (stream, revision))`,
      );
      for (const sql of extra) await c.query(sql);
      const data = extra.some((s) => s.includes('jsonb'));
      const t = process.hrtime.bigint();
      for (let b = 0; b < 100; b++) {
        await c.query(
          `INSERT INTO t (position, stream, revision, kind, type, time, session, correlation_id, request_id, body${data ? ', data' : ''})
          SELECT i, '"s-' || (i % 1000) || '"', i / 1000, 1, '"ItemAdded"', 1700000000000 + i, '"no-session"', '"c-' || (i % 1000) || '"', '"r-' || i || '"',
            '{"type":"ItemAdded","data":{"i":' || i || ',"sku":"sku-' || (i % 97) || '","qty":' || (1 + i % 5) || '},"correlationId":"c-' || (i % 1000) || '","timestamp":"2023-11-14T22:13:20.000Z"}'
            ${data ? `, ('{"i":' || i || ',"sku":"sku-' || (i % 97) || '","qty":' || (1 + i % 5) || '}')::jsonb` : ''}
          FROM generate_series($1::bigint, $2::bigint) i`,
          [b * 1000 + 1, b * 1000 + 1000],
        );
      }
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (results[name] === undefined) results[name] = [];
      results[name].push(ms);
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[1];
  const base = med(results['none more']);
  console.log(`| index added to position + (stream, revision) | 100,000 rows (ms, median of 3) | cost ÷ the two |`);
  console.log('|---|---:|---:|');
  for (const [name, xs] of Object.entries(results))
    console.log(
      `| ${name} | ${med(xs).toFixed(0)} | ${name === 'none more' ? '—' : `+${(((med(xs) - base) / base) * 100).toFixed(0)}%`} |`,
    );
  await c.end();
  await server.stop();
})();
