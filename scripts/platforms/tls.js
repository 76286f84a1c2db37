// PostgreSQL over TLS from a platform's binary, for the targets whose check asks for it
// (check.tls): against the test servers of __test__/support/tls-server.mjs (TLS only,
// their certificates from a CA made for the run), one save read back with
// sslmode=verify-full and that CA, and a server whose certificate another CA signed,
// and one whose certificate names another host, each refused with its own code. The
// Linux x64 build's TLS is tested by jest; this is for a build whose TLS code is
// compiled otherwise (mingw for Windows).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const { name } = require('../../package.json');
const SERVERS = path.resolve(__dirname, '../../__test__/support/tls-server.mjs');

/** Starts the test servers: `{ ca, servers, url(server, { query }), stop() }`. */
async function start() {
  const { startTlsPostgres } = await import(pathToFileURL(SERVERS).href);
  return startTlsPostgres();
}

const script = (tuple, urls) => `const assert = require('node:assert/strict');
const { PostgresMessageStore } = require('${name}');
(async () => {
  const schema = ${JSON.stringify(`platform_${tuple.replace(/-/g, '_')}`)};
  const store = new PostgresMessageStore({ connectionString: ${JSON.stringify(urls.verified)}, schema });
  await store.saveMessage('tls', { type: 'Checked', data: { over: 'tls', note: 'Zoë ✓ 注文' } }, 'no_stream');
  const read = await store.getMessages('tls');
  assert.deepEqual(
    read.map((m) => [m.streamId, m.revision, m.position, m.messageType, m.message.type, m.message.data]),
    [['tls', 0n, 1n, 'event', 'Checked', { over: 'tls', note: 'Zoë ✓ 注文' }]],
  );
  await store.dispose();
  // A check that let every certificate through would pass the save above too; and one
  // that skipped the name (verify-ca's check, not verify-full's) would let the second in.
  for (const [url, code] of [
    [${JSON.stringify(urls.otherCa)}, 'ERR_MESSAGE_STORE_TLS_UNKNOWN_CA'],
    [${JSON.stringify(urls.otherHost)}, 'ERR_MESSAGE_STORE_TLS_HOST_MISMATCH'],
  ]) {
    const other = new PostgresMessageStore({ connectionString: url, schema });
    const refused = await other.getStats().then(() => null, (e) => e);
    assert.equal(refused && refused.code, code, String(refused));
    await other.dispose();
  }
  console.log('PostgresMessageStore (require): over TLS, verify-full with the test CA, saved and read back; a server of another CA and one named for another host refused');
})().catch((e) => { console.error(e); process.exit(1); });
`;

/**
 * Writes the check into the project in `dir` as tls.cjs and returns its name. `seen`
 * maps a path on this machine to the one the target's Node opens (the CA's, in the URL).
 */
function write(dir, tuple, tls, seen) {
  const query = `sslmode=verify-full&sslrootcert=${encodeURIComponent(seen(tls.ca))}`;
  const urls = {
    verified: tls.url(tls.servers.good, { query }),
    otherCa: tls.url(tls.servers.unknownCa, { query }),
    otherHost: tls.url(tls.servers.otherHost, { query }),
  };
  fs.writeFileSync(path.join(dir, 'tls.cjs'), script(tuple, urls));
  return 'tls.cjs';
}

module.exports = { start, write };
