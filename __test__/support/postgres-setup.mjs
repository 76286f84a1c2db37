// jest globalSetup: one throwaway PostgreSQL for the whole run (postgres-server.mjs),
// its URL reaching the test workers as DATABASE_URL (each test uses a schema of its
// own), the TLS servers (tls-server.mjs), described to the workers as JSON in
// MESSAGE_STORE_TLS, and a PgBouncer in transaction mode in front of the server
// (pgbouncer.mjs) as MESSAGE_STORE_PGBOUNCER_URL: started here because the workers
// cannot load ES modules.
import { startPgBouncer } from './pgbouncer.mjs';
import { startPostgres } from './postgres-server.mjs';
import { PASSWORD, startTlsPostgres } from './tls-server.mjs';

export default async function setup() {
  // One after the other: on a new machine the first creates the user the servers run as.
  const pg = await startPostgres();
  const tls = await startTlsPostgres().catch(async (e) => {
    await pg.stop();
    throw e;
  });
  // A missing pooler fails the run: the behaviour suites run through it too.
  const bouncer = await startPgBouncer(pg.url).catch(async (e) => {
    await Promise.all([pg.stop(), tls.stop()]);
    throw new Error(`Starting PgBouncer for the tests failed: ${e.message}`);
  });
  globalThis.__MESSAGE_STORE_PG__ = pg;
  globalThis.__MESSAGE_STORE_TLS__ = tls;
  globalThis.__MESSAGE_STORE_PGBOUNCER__ = bouncer;
  process.env.DATABASE_URL = pg.url;
  process.env.MESSAGE_STORE_PGBOUNCER_URL = bouncer.url;
  const { dir, ca, otherCa, client, servers } = tls;
  process.env.MESSAGE_STORE_TLS = JSON.stringify({ dir, ca, otherCa, client, servers, password: PASSWORD });
}
