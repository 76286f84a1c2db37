// `DEBUG=auto:message-store:*` prints upstream's debug lines (saves, sessions, reset)
// under the namespace `auto:message-store:memory`; with DEBUG unset nothing is printed.
// Each case runs in a child process, because `debug` reads DEBUG when it loads.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..');
const script = `
const { MemoryMessageStore } = require(${JSON.stringify(root)});
(async () => {
  const store = new MemoryMessageStore();
  const id = await store.createSession();
  await store.saveMessages('orders', [{ type: 'A', data: {} }, { type: 'B', data: {} }]);
  await store.saveMessage('orders', { type: 'C', data: {} });
  await store.endSession(id);
  await store.reset();
  await store.dispose();
  console.log('SESSION ' + id);
})();
`;

function run(env: Record<string, string>): { stdout: string; stderr: string } {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, DEBUG_COLORS: 'no', DEBUG_HIDE_DATE: 'yes', ...env };
  if (!('DEBUG' in env)) delete childEnv.DEBUG;
  const { stdout, stderr, status } = spawnSync(process.execPath, ['-e', script], { env: childEnv, encoding: 'utf8' });
  expect(status).toBe(0);
  return { stdout, stderr };
}

test('DEBUG=auto:message-store:* prints saves, sessions and reset', () => {
  const { stderr } = run({ DEBUG: 'auto:message-store:*' });
  const lines = stderr
    .trim()
    .split('\n')
    .map((l) => l.replace(/session-\d+-[A-Za-z0-9_-]{8}/, 'session-ID'));
  expect(lines).toEqual([
    'auto:message-store:memory MemoryMessageStore initialized.',
    'auto:message-store:memory Created new session: session-ID',
    'auto:message-store:memory Saving 2 messages to stream: orders',
    'auto:message-store:memory Saved 2 messages to stream orders, new revision: 1',
    'auto:message-store:memory Saving 1 messages to stream: orders',
    'auto:message-store:memory Saved 1 messages to stream orders, new revision: 2',
    'auto:message-store:memory Ended session: session-ID',
    'auto:message-store:memory Resetting message store',
    'auto:message-store:memory Disposing message store',
  ]);
});

test('nothing is printed when DEBUG is unset', () => {
  const { stdout, stderr } = run({});
  expect(stdout).toMatch(/^SESSION session-\d+-[A-Za-z0-9_-]{8}\n$/);
  expect(stderr).toBe('');
});
