// Install test: pack the package, add the tarball to a fresh project in a temporary
// folder with Rust taken off the PATH, and run the Quick Start from ESM and CommonJS.
// Proves the tarball carries the built addon and nothing a user does not need.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-install-'));

// Run pnpm as the running pnpm (when started by `pnpm test`) or from the PATH. pnpm 12
// is a native executable; older ones are JavaScript files run by node.
function pnpm(args, options) {
  const exec = process.env.npm_execpath;
  if (!exec || !/pnpm/.test(exec)) return execFileSync('pnpm', args, options);
  if (/\.[cm]?js$/.test(exec)) return execFileSync(process.execPath, [exec, ...args], options);
  return execFileSync(exec, args, options);
}

function withoutRust() {
  const dirs = (process.env.PATH || '').split(path.delimiter);
  const kept = dirs.filter((d) => !['cargo', 'rustc', 'rustup'].some((t) => fs.existsSync(path.join(d, t))));
  const env = { ...process.env, PATH: kept.join(path.delimiter) };
  delete env.CARGO_HOME;
  delete env.RUSTUP_HOME;
  delete env.CARGO;
  return env;
}

try {
  pnpm(['pack', '--pack-destination', work], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const tarball = fs.readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('pnpm pack made no tarball');
  const listing = execFileSync('tar', ['-tzf', path.join(work, tarball)], { encoding: 'utf8' }).split('\n');
  const bad = listing.filter((f) => /^package\/(target|src|node_modules|__test__)\//.test(f));
  if (bad.length) throw new Error(`the tarball carries files users do not need: ${bad.slice(0, 5).join(', ')}`);
  if (!listing.some((f) => f.endsWith('.node'))) throw new Error('the tarball carries no built .node addon');
  console.log(`packed ${tarball}: ${listing.filter(Boolean).length} files`);

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'install-test-app', private: true }, null, 2));
  const env = withoutRust();
  const stdio = ['ignore', 'inherit', 'inherit'];
  try {
    execFileSync('cargo', ['--version'], { env, stdio: 'ignore' });
    throw new Error('cargo is still on the PATH of the install test');
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  pnpm(['add', path.join(work, tarball)], { cwd: app, env, stdio });
  fs.copyFileSync(path.join(root, 'examples', 'quick-start.mjs'), path.join(app, 'esm.mjs'));
  fs.copyFileSync(path.join(root, 'examples', 'quick-start.cjs'), path.join(app, 'cjs.cjs'));
  execFileSync(process.execPath, ['esm.mjs'], { cwd: app, env, stdio });
  execFileSync(process.execPath, ['cjs.cjs'], { cwd: app, env, stdio });
  // The durable store from the tarball: save, close, reopen, read back.
  fs.writeFileSync(
    path.join(app, 'sqlite.cjs'),
    `const assert = require('node:assert/strict');
const { SqliteMessageStore } = require('@auto-engineer/message-store');
(async () => {
  const first = new SqliteMessageStore('messages.db');
  await first.saveMessages('orders', [{ type: 'Placed', data: { id: 1 } }, { type: 'Shipped', data: { id: 1 } }]);
  await first.dispose();
  const again = new SqliteMessageStore('messages.db', { durability: 'power' });
  const read = await again.getMessages('orders');
  assert.deepEqual(read.map((m) => [m.message.type, m.position]), [['Placed', 1n], ['Shipped', 2n]]);
  await again.dispose();
  console.log('SqliteMessageStore (require): reopened with every message');
})().catch((e) => { console.error(e); process.exit(1); });
`,
  );
  execFileSync(process.execPath, ['sqlite.cjs'], { cwd: app, env, stdio });
  console.log('install test: passed');
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
