// `DEBUG=auto:message-store:*` prints upstream's debug lines (saves, sessions, reset)
// under the store's namespace (`auto:message-store:memory`, `…:sqlite`, `…:postgres`);
// with DEBUG unset nothing is printed.
// Each case runs in a child process, because `debug` reads DEBUG when it loads.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { tempDbPath } from './support/stores';

const root = path.resolve(__dirname, '..');

/** Each store as the child process makes it, with the line its constructor logs. */
const made = [
  { name: 'MemoryMessageStore', ns: 'memory', make: 'new MemoryMessageStore()', first: 'MemoryMessageStore initialized.' },
  {
    name: 'SqliteMessageStore',
    ns: 'sqlite',
    make: 'new SqliteMessageStore(process.env.STORE_FILE)',
    first: 'SqliteMessageStore opened FILE (durability process).',
  },
  {
    name: 'PostgresMessageStore',
    ns: 'postgres',
    make: 'new PostgresMessageStore({ connectionString: process.env.DATABASE_URL, schema: process.env.STORE_SCHEMA })',
    first: 'PostgresMessageStore on schema SCHEMA at HOST (sslmode prefer).',
  },
];

const script = (make: string) => `
const { MemoryMessageStore, SqliteMessageStore, PostgresMessageStore } = require(${JSON.stringify(root)});
(async () => {
  const store = ${make};
  const id = await store.createSession();
  await store.saveMessages('orders', [{ type: 'A', data: {} }, { type: 'B', data: {} }]);
  await store.saveMessage('orders', { type: 'C', data: {} });
  await store.endSession(id);
  await store.reset();
  await store.dispose();
  console.log('SESSION ' + id);
})();
`;

let runs = 0;
function run(make: string, env: Record<string, string>): { stdout: string; stderr: string; file: string; schema: string } {
  const file = tempDbPath();
  const schema = `debug_${process.pid}_${++runs}`;
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DEBUG_COLORS: 'no',
    DEBUG_HIDE_DATE: 'yes',
    STORE_FILE: file,
    STORE_SCHEMA: schema,
    ...env,
  };
  if (!('DEBUG' in env)) delete childEnv.DEBUG;
  const { stdout, stderr, status } = spawnSync(process.execPath, ['-e', script(make)], { env: childEnv, encoding: 'utf8' });
  expect({ status, stderr: status === 0 ? '' : stderr }).toEqual({ status: 0, stderr: '' });
  return { stdout, stderr, file, schema };
}

describe.each(made)('$name', ({ ns, make, first }) => {
  test('DEBUG=auto:message-store:* prints saves, sessions and reset', () => {
    const { stderr, file, schema } = run(make, { DEBUG: 'auto:message-store:*' });
    const lines = stderr
      .trim()
      .split('\n')
      .map((l) => l.replace(/session-\d+-[A-Za-z0-9_-]{8}/, 'session-ID'));
    expect(lines).toEqual(
      [
        first
          .replace('FILE', file)
          .replace('SCHEMA', schema)
          .replace('HOST', new URL(process.env.DATABASE_URL ?? 'postgres://none').host),
        'Created new session: session-ID',
        'Saving 2 messages to stream: orders',
        'Saved 2 messages to stream orders, new revision: 1',
        'Saving 1 messages to stream: orders',
        'Saved 1 messages to stream orders, new revision: 2',
        'Ended session: session-ID',
        'Resetting message store',
        'Disposing message store',
      ].map((l) => `auto:message-store:${ns} ${l}`),
    );
  });

  test('nothing is printed when DEBUG is unset', () => {
    const { stdout, stderr } = run(make, {});
    expect(stdout).toMatch(/^SESSION session-\d+-[A-Za-z0-9_-]{8}\n$/);
    expect(stderr).toBe('');
  });
});
