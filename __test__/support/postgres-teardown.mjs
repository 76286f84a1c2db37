// jest globalTeardown: stops what postgres-setup.mjs started (no plain server when DATABASE_URL was given).
export default async function teardown() {
  await Promise.all([globalThis.__MESSAGE_STORE_PG__?.stop(), globalThis.__MESSAGE_STORE_TLS__?.stop()]);
}
