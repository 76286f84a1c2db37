// jest globalSetup: one throwaway PostgreSQL for the whole run (postgres-server.mjs);
// its URL reaches the test workers as DATABASE_URL. Each test uses a schema of its own.
import { startPostgres } from './postgres-server.mjs';

export default async function setup() {
  const pg = await startPostgres();
  globalThis.__MESSAGE_STORE_PG__ = pg;
  process.env.DATABASE_URL = pg.url;
}
