// jest globalTeardown: stops the server postgres-setup.mjs started (none when DATABASE_URL was given).
export default async function teardown() {
  await globalThis.__MESSAGE_STORE_PG__?.stop();
}
