// jest globalSetup: one throwaway PostgreSQL for the whole run (postgres-server.mjs),
// its URL reaching the test workers as DATABASE_URL (each test uses a schema of its
// own), and the TLS servers (tls-server.mjs), described to the workers as JSON in
// MESSAGE_STORE_TLS: started here because the workers cannot load ES modules.
import { startPostgres } from './postgres-server.mjs';
import { PASSWORD, startTlsPostgres } from './tls-server.mjs';

export default async function setup() {
  // One after the other: on a new machine the first creates the user the servers run as.
  const pg = await startPostgres();
  const tls = await startTlsPostgres().catch(async (e) => {
    await pg.stop();
    throw e;
  });
  globalThis.__MESSAGE_STORE_PG__ = pg;
  globalThis.__MESSAGE_STORE_TLS__ = tls;
  process.env.DATABASE_URL = pg.url;
  const { dir, ca, otherCa, client, servers } = tls;
  process.env.MESSAGE_STORE_TLS = JSON.stringify({ dir, ca, otherCa, client, servers, password: PASSWORD });
}
