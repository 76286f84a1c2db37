// A user's project: a fresh folder that installs the packed tarballs with pnpm, with
// Rust off the PATH, and runs the Quick Start (ESM and CommonJS) and a SQLite
// save / reopen / read with a given Node, natively, under an emulator or under Wine.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { pnpm } = require('./pack.js');

const root = path.resolve(__dirname, '../..');
const { name, napi } = require('../../package.json');

/** The environment without Rust: the install must not build anything. */
function withoutRust() {
  const env = { ...process.env };
  // Windows spells it Path; keep whichever spelling this process has.
  const key = Object.keys(env).find((k) => k.toUpperCase() === 'PATH') || 'PATH';
  const tools = ['cargo', 'rustc', 'rustup'].flatMap((t) => [t, `${t}.exe`]);
  env[key] = (env[key] || '')
    .split(path.delimiter)
    .filter((d) => !tools.some((t) => fs.existsSync(path.join(d, t))))
    .join(path.delimiter);
  for (const v of ['CARGO_HOME', 'RUSTUP_HOME', 'CARGO', 'NAPI_RS_NATIVE_LIBRARY_PATH']) delete env[v];
  const cargo = spawnSync('cargo', ['--version'], { env, stdio: 'ignore', shell: process.platform === 'win32' });
  if (cargo.status === 0) throw new Error('cargo is still on the PATH of the install test');
  return env;
}

// Non-ASCII text in the data: it must come back exactly as saved on every platform (a
// conversion through a Windows code page would show here).
const SQLITE = `const assert = require('node:assert/strict');
const { SqliteMessageStore } = require('${name}');
const shape = (m) => ({ streamId: m.streamId, type: m.message.type, data: m.message.data, messageType: m.messageType, revision: m.revision, position: m.position });
(async () => {
  const first = new SqliteMessageStore('messages.db');
  await first.saveMessages('orders', [{ type: 'Placed', data: { id: 1, note: 'Zoë ✓ 注文' } }, { type: 'Shipped', data: { id: 1 } }], 'no_stream');
  await first.dispose();
  const again = new SqliteMessageStore('messages.db', { durability: 'power' });
  assert.deepEqual((await again.getMessages('orders')).map(shape), [
    { streamId: 'orders', type: 'Placed', data: { id: 1, note: 'Zoë ✓ 注文' }, messageType: 'event', revision: 0n, position: 1n },
    { streamId: 'orders', type: 'Shipped', data: { id: 1 }, messageType: 'event', revision: 1n, position: 2n },
  ]);
  await again.saveMessage('orders', { type: 'Delivered', data: { id: 1 } }, 1n);
  assert.deepEqual((await again.getMessages('orders', 2n)).map(shape), [
    { streamId: 'orders', type: 'Delivered', data: { id: 1 }, messageType: 'event', revision: 2n, position: 3n },
  ]);
  await again.dispose();
  console.log('SqliteMessageStore (require): reopened with every message, exact values, numbering continued');
})().catch((e) => { console.error(e); process.exit(1); });
`;

// Prints which binary the package loaded: the one file of the platform package.
const WHICH = `require('${name}');
const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
console.log(JSON.stringify({ arch: process.arch, loaded: loaded.map((f) => f.split(/node_modules[\\\\/]/).pop()) }));
`;

/**
 * Makes the project in `dir` and installs `tarballs` into it. `supported` is pnpm's
 * supportedArchitectures (os, cpu, libc) for an install meant for another platform;
 * `hoisted` lays node_modules out without symlinks (pnpm's nodeLinker: hoisted).
 */
function install(dir, tarballs, supported, { hoisted = false } = {}) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'install-test-app', private: true }, null, 2));
  const settings = [];
  if (supported) {
    const list = (k) => `  ${k}: [${supported[k].join(', ')}]\n`;
    settings.push(`supportedArchitectures:\n${Object.keys(supported).map(list).join('')}`);
  }
  if (hoisted) settings.push('nodeLinker: hoisted\n');
  if (settings.length) fs.writeFileSync(path.join(dir, 'pnpm-workspace.yaml'), settings.join(''));
  const env = withoutRust();
  pnpm(['add', ...tarballs], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  fs.copyFileSync(path.join(root, 'examples', 'quick-start.mjs'), path.join(dir, 'esm.mjs'));
  fs.copyFileSync(path.join(root, 'examples', 'quick-start.cjs'), path.join(dir, 'cjs.cjs'));
  fs.writeFileSync(path.join(dir, 'sqlite.cjs'), SQLITE);
  fs.writeFileSync(path.join(dir, 'which.cjs'), WHICH);
  return env;
}

/**
 * Runs the Quick Start and the SQLite check in `dir` with `node` (an argv prefix: the
 * Node binary, or an emulator or loader and then the Node binary), then the scripts
 * `more` names (written into `dir`, each ending with the line of what it checked);
 * fails unless the package loaded exactly the platform package's binary for `tuple`.
 */
function run(dir, node, tuple, env, more = []) {
  const [cmd, ...prefix] = node;
  // Output goes to files, not pipes: under Wine, Node cannot open a pipe as its stdout
  // or stderr (libuv fails with EBADF on the handle Wine gives it).
  const exec = (script) => {
    const [out, err] = ['out', 'err'].map((s) => path.join(dir, `${script}.${s}`));
    const fds = [out, err].map((f) => fs.openSync(f, 'w'));
    let r;
    try {
      r = spawnSync(cmd, [...prefix, script], { cwd: dir, env, stdio: ['ignore', ...fds], timeout: 300_000 });
    } finally {
      for (const fd of fds) fs.closeSync(fd);
    }
    if (r.error) throw r.error;
    const [stdout, stderr] = [out, err].map((f) => fs.readFileSync(f, 'utf8'));
    if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}:\n${stderr}${stdout}`);
    return stdout;
  };
  const which = JSON.parse(exec('which.cjs'));
  const expected = `${name}-${tuple}/${napi.binaryName}.${tuple}.node`;
  if (which.loaded.length !== 1 || which.loaded[0].replace(/\\/g, '/') !== expected) {
    throw new Error(`${tuple}: the package loaded ${JSON.stringify(which.loaded)}, expected ${expected}`);
  }
  const lines = [`${tuple} (${which.arch}): loaded ${expected}`];
  // Each script ends by printing what it checked; the last line is enough here.
  for (const script of ['esm.mjs', 'cjs.cjs', 'sqlite.cjs', ...more]) lines.push(`${tuple}: ${exec(script).trim().split(/\r?\n/).pop()}`);
  return lines;
}

module.exports = { install, run, withoutRust };
