// What the platform builds and tests need on a Linux x64 machine, installed when
// missing: Rust targets, zig, cargo-zigbuild, Debian packages. Each helper checks
// first, so a second run installs nothing.
'use strict';

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ZIG_VERSION = '0.17.1';
const CARGO_ZIGBUILD_VERSION = '0.24.1';

function run(cmd, args, options = {}) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { stdio: 'inherit', ...options });
}

function succeeds(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: 'ignore', ...options });
  return r.status === 0;
}

/** Fails with what to do when the machine is not one the scripts were made for. */
function requireLinuxX64() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the platform builds and tests run on Linux x64 (Debian); this is ${process.platform} ${process.arch}`);
  }
}

function rustTargets(triples) {
  const installed = execFileSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' }).split('\n');
  const missing = triples.filter((t) => !installed.includes(t));
  if (missing.length) run('rustup', ['target', 'add', ...missing]);
}

/** zig from PyPI (the `ziglang` wheel); returns the folder holding the `zig` binary. */
function zig() {
  const find = () => {
    const r = spawnSync('python3', ['-c', 'import ziglang, os; print(os.path.dirname(ziglang.__file__))'], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  let dir = find();
  const version = dir && spawnSync(path.join(dir, 'zig'), ['version'], { encoding: 'utf8' }).stdout.trim();
  if (version !== ZIG_VERSION) {
    run('python3', ['-m', 'pip', 'install', '--quiet', `ziglang==${ZIG_VERSION}`]);
    dir = find();
  }
  if (!dir) throw new Error('zig: `pip install ziglang` succeeded but python3 cannot import ziglang');
  return dir;
}

function cargoZigbuild() {
  const r = spawnSync('cargo-zigbuild', ['--version'], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout.includes(CARGO_ZIGBUILD_VERSION)) {
    run('cargo', ['install', '--locked', `cargo-zigbuild@${CARGO_ZIGBUILD_VERSION}`]);
  }
}

/** Debian packages, by the file each one provides. */
function debian(packages) {
  const missing = Object.entries(packages)
    .filter(([, file]) => !fs.existsSync(file))
    .map(([p]) => p);
  if (!missing.length) return;
  const sudo = process.getuid && process.getuid() !== 0 ? ['sudo'] : [];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => (sudo.length ? run('sudo', ['-E', 'apt-get', ...args], { env }) : run('apt-get', args, { env }));
  if (sudo.length && !succeeds('sudo', ['-n', 'true'])) {
    throw new Error(`missing Debian packages ${missing.join(' ')}: install them (apt-get install -y ${missing.join(' ')}) or run as root`);
  }
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}

/** The PATH with zig's folder first. */
function pathWith(dir) {
  return `${dir}${path.delimiter}${process.env.PATH || ''}`;
}

module.exports = { run, succeeds, requireLinuxX64, rustTargets, zig, cargoZigbuild, debian, pathWith };
