// Packs the main package and the platform packages into tarballs, the way a publish
// lays them out: `napi create-npm-dirs` makes npm/<tuple>/, `napi artifacts` copies each
// binary into its folder, and the main package names every platform package as an
// optional dependency, so a registry install fetches only the user's binary and an
// install from files takes the main tarball plus the user's platform tarball.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { targets } = require('./targets.js');

const root = path.resolve(__dirname, '../..');
const napi = path.join(root, 'node_modules', '.bin', 'napi');
const manifest = require('../../package.json');

// Run pnpm as the running pnpm (when started by a pnpm script) or from the PATH. pnpm
// 12 is a native executable; older ones are JavaScript files run by node.
function pnpm(args, options) {
  const exec = process.env.npm_execpath;
  // On Windows pnpm on the PATH is a .cmd file, which only a shell runs.
  if (!exec || !/pnpm/.test(exec)) return execFileSync('pnpm', args, { ...options, shell: process.platform === 'win32' });
  if (/\.[cm]?js$/.test(exec)) return execFileSync(process.execPath, [exec, ...args], options);
  return execFileSync(exec, args, options);
}

/** Runs a command in the project, showing its output only when it fails. */
function quiet(cmd, args) {
  try {
    execFileSync(cmd, args, { cwd: root, encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed:\n${e.stdout || ''}${e.stderr || ''}`);
  }
}

function packInto(dir, dest) {
  const before = new Set(fs.readdirSync(dest));
  pnpm(['pack', '--pack-destination', dest], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const made = fs.readdirSync(dest).filter((f) => f.endsWith('.tgz') && !before.has(f));
  if (made.length !== 1) throw new Error(`pnpm pack in ${dir} made ${made.length} tarballs`);
  return path.join(dest, made[0]);
}

/** The optional dependencies the published main package carries: one per target. */
function optionalDependencies() {
  return Object.fromEntries(targets.map((t) => [`${manifest.name}-${t.tuple}`, manifest.version]));
}

/** The platform package's manifest as napi wrote it, with os, cpu and libc from
 * targets.js: napi gives windows-gnu `libc: ["glibc"]`, which no Windows machine has. */
function fixManifest(dir, target) {
  const file = path.join(dir, 'package.json');
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
  pkg.os = [target.os];
  pkg.cpu = [target.cpu];
  if (target.libc) pkg.libc = [target.libc];
  else delete pkg.libc;
  fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}

/**
 * Packs the platform packages of `tuples`, whose binaries are in `from`, and the main
 * package, into `dest`; returns the tarballs' paths, the main one first.
 */
function packAll({ tuples, from, npmDir = path.join(root, 'npm'), dest = path.join(root, 'dist') }) {
  fs.rmSync(dest, { recursive: true, force: true });
  fs.mkdirSync(dest, { recursive: true });
  fs.rmSync(npmDir, { recursive: true, force: true });
  // napi works on every target its config names: give it one naming just these.
  const config = path.join(npmDir, '..', `napi-config-${process.pid}.json`);
  fs.mkdirSync(path.dirname(config), { recursive: true });
  const only = tuples.map((tuple) => targets.find((t) => t.tuple === tuple).triple);
  fs.writeFileSync(config, JSON.stringify({ ...manifest.napi, targets: only }));
  try {
    quiet(napi, ['create-npm-dirs', '-c', config, '--npm-dir', npmDir]);
    quiet(napi, ['artifacts', '-c', config, '--output-dir', from, '--npm-dir', npmDir]);
  } finally {
    fs.rmSync(config, { force: true });
  }
  const tarballs = [];
  for (const tuple of tuples) {
    const target = targets.find((t) => t.tuple === tuple);
    const dir = path.join(npmDir, tuple);
    const binary = `${manifest.napi.binaryName}.${tuple}.node`;
    if (!fs.existsSync(path.join(dir, binary))) throw new Error(`napi artifacts put no ${binary} in ${dir} (looked in ${from})`);
    fixManifest(dir, target);
    tarballs.push(packInto(dir, dest));
  }
  // The main package: packed as it is, then again from a copy whose manifest names
  // the platform packages (kept out of package.json itself, where pnpm would look
  // them up in the registry on every install of the project).
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-pack-'));
  try {
    const plain = packInto(root, stage);
    execFileSync('tar', ['-xzf', plain, '-C', stage]);
    const file = path.join(stage, 'package', 'package.json');
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8'));
    pkg.optionalDependencies = optionalDependencies();
    fs.writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
    tarballs.unshift(packInto(path.join(stage, 'package'), dest));
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
  return tarballs;
}

module.exports = { packAll, optionalDependencies, pnpm };
