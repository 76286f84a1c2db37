// `pnpm build:platforms [tuple …]`: builds the addon for every target in targets.js
// (or the tuples named) on a Linux x64 machine, installing what the builds need, and
// packs the packages of every binary built so far:
//   artifacts/message-store.<tuple>.node   each binary, where `napi artifacts` takes them
//   npm/<tuple>/                           each platform package (`napi create-npm-dirs`)
//   dist/*.tgz                             the main package and every platform package
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { targets } = require('./targets.js');
const tools = require('./tools.js');
const { packAll } = require('./pack.js');

const root = path.resolve(__dirname, '../..');
const artifacts = path.join(root, 'artifacts');
const napi = path.join(root, 'node_modules', '.bin', 'napi');
const { binaryName } = require('../../package.json').napi;

function chosen(argv) {
  if (!argv.length) return targets;
  const unknown = argv.filter((a) => !targets.some((t) => t.tuple === a));
  if (unknown.length) throw new Error(`unknown target ${unknown.join(', ')}; known: ${targets.map((t) => t.tuple).join(', ')}`);
  return targets.filter((t) => argv.includes(t.tuple));
}

/** napi-build links windows-gnu builds against libnode; napi-sys loads every napi_*
 * function at run time, so an empty import library and a placeholder DLL suffice. */
function libnodePlaceholder() {
  const dir = path.join(root, 'target', 'libnode-placeholder');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'libnode.dll'), '');
  fs.writeFileSync(path.join(dir, 'libnode.a'), '!<arch>\n');
  return dir;
}

function build(target, zigDir) {
  const out = path.join(root, '.tmp', 'platforms', target.tuple);
  fs.rmSync(out, { recursive: true, force: true });
  const args = ['build', '--platform', '--release', '--no-js', '--output-dir', out];
  const env = { ...process.env, ...(target.build.env || {}) };
  if (target.build.kind === 'zig') {
    const triple = target.build.glibc ? `${target.triple}.${target.build.glibc}` : target.triple;
    args.push('--target', triple, '-x');
    env.PATH = tools.pathWith(zigDir);
  } else {
    // Its own target folder: the mingw build's C objects must not mix with zig's.
    args.push('--target', target.triple, '--target-dir', path.join(root, 'target', 'windows-gnu'));
    env.LIBNODE_PATH = libnodePlaceholder();
    env.CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER = 'x86_64-w64-mingw32-gcc';
  }
  tools.run(napi, args, { cwd: root, env });
  const file = `${binaryName}.${target.tuple}.node`;
  fs.mkdirSync(artifacts, { recursive: true });
  fs.copyFileSync(path.join(out, file), path.join(artifacts, file));
  // zig leaves an empty object file in the working folder after darwin builds.
  fs.rmSync(path.join(root, '.intentionally-empty-file.o'), { force: true });
  console.log(`built ${path.relative(root, path.join(artifacts, file))}`);
}

function main() {
  tools.requireLinuxX64();
  const list = chosen(process.argv.slice(2));
  const started = Date.now();
  tools.rustTargets(list.map((t) => t.triple));
  let zigDir = null;
  if (list.some((t) => t.build.kind === 'zig')) {
    zigDir = tools.zig();
    tools.cargoZigbuild();
  }
  if (list.some((t) => t.build.kind === 'mingw')) tools.debian({ 'gcc-mingw-w64-x86-64': '/usr/bin/x86_64-w64-mingw32-gcc' });
  for (const target of list) build(target, zigDir);
  // Pack every binary in artifacts/, so that rebuilding one target keeps the others.
  const built = targets.filter((t) => fs.existsSync(path.join(artifacts, `${binaryName}.${t.tuple}.node`)));
  const tarballs = packAll({ tuples: built.map((t) => t.tuple), from: artifacts });
  console.log(`build:platforms: ${list.length} targets in ${Math.round((Date.now() - started) / 1000)} s`);
  for (const t of tarballs) console.log(`  ${path.relative(root, t)}`);
}

try {
  main();
} catch (e) {
  console.error(`build:platforms failed: ${e.message}`);
  process.exit(1);
}
