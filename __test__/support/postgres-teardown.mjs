// jest globalTeardown: stops what postgres-setup.mjs started, PgBouncer included (no plain server when DATABASE_URL was given).
export default async function teardown() {
  // The pooler first: stopping the server under it would only make it log reconnects.
  await globalThis.__MESSAGE_STORE_PGBOUNCER__?.stop();
  await Promise.all([globalThis.__MESSAGE_STORE_PG__?.stop(), globalThis.__MESSAGE_STORE_TLS__?.stop()]);
}
