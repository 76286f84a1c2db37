// `pnpm test:platforms`: checks every package `pnpm build:platforms` packed into dist/.
//   - every tarball: its manifest (name, version, os, cpu, libc, the optional
//     dependencies of the main one) and its files;
//   - each Linux and Windows target (check.kind 'run'): the main tarball plus the
//     platform tarball installed with pnpm into a fresh project (Rust off the PATH),
//     then the Quick Start from ESM and CommonJS and a SQLite save / reopen / read,
//     with a Node built for that platform, under qemu where the CPU is not this one's
//     and under Wine for Windows; and where check.tls asks, PostgreSQL over TLS
//     (tls.js);
//   - each macOS target (check.kind 'inspect'), and Windows too (check.inspect): the
//     structural checks of inspect.js, each also run against a binary that must fail
//     it, so a check that passes everything is caught.
// Runs on Linux x64 (Debian); installs qemu, the arm64 glibc, Wine and mingw-w64 when
// missing.
//
// `node scripts/platforms/test.js --here`, on any machine with pnpm (the hosted CI's
// macOS, Windows and arm64 runners): installs the main tarball and this machine's
// platform tarball from dist/ and runs the same scripts with the running Node.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { targets } = require('./targets.js');
const { optionalDependencies } = require('./pack.js');
const { problems } = require('./inspect.js');
const tools = require('./tools.js');
const runtimes = require('./runtimes.js');
const app = require('./app.js');
const tls = require('./tls.js');

const root = path.resolve(__dirname, '../..');
const dist = path.join(root, 'dist');
const manifest = require('../../package.json');
const tarballName = (pkg) => `${pkg.replace(/^@/, '').replace('/', '-')}-${manifest.version}.tgz`;
const mainTarball = path.join(dist, tarballName(manifest.name));
const platformTarball = (t) => path.join(dist, tarballName(`${manifest.name}-${t.tuple}`));
const binaryOf = (t) => `${manifest.napi.binaryName}.${t.tuple}.node`;

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

/** Reads `file` (a path inside the package) out of a tarball. */
function fromTarball(tarball, file, encoding) {
  return execFileSync('tar', ['-xzOf', tarball, `package/${file}`], { encoding, maxBuffer: 1 << 30 });
}

function checkManifests() {
  const main = JSON.parse(fromTarball(mainTarball, 'package.json', 'utf8'));
  check(
    JSON.stringify(main.optionalDependencies) === JSON.stringify(optionalDependencies()),
    `main package: optionalDependencies ${JSON.stringify(main.optionalDependencies)}, expected ${JSON.stringify(optionalDependencies())}`,
  );
  for (const t of targets) {
    const pkg = JSON.parse(fromTarball(platformTarball(t), 'package.json', 'utf8'));
    const want = {
      name: `${manifest.name}-${t.tuple}`,
      version: manifest.version,
      main: binaryOf(t),
      os: [t.os],
      cpu: [t.cpu],
      libc: t.libc ? [t.libc] : undefined,
    };
    const got = { name: pkg.name, version: pkg.version, main: pkg.main, os: pkg.os, cpu: pkg.cpu, libc: pkg.libc };
    check(JSON.stringify(got) === JSON.stringify(want), `${t.tuple}: manifest ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
    const files = execFileSync('tar', ['-tzf', platformTarball(t)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .sort();
    const expected = ['package/README.md', `package/${binaryOf(t)}`, 'package/package.json'].sort();
    check(JSON.stringify(files) === JSON.stringify(expected), `${t.tuple}: tarball holds ${JSON.stringify(files)}`);
  }
  console.log(`manifests: ${targets.length + 1} tarballs checked`);
}

function runOn(t, work, servers) {
  const dir = path.join(work, t.tuple);
  const supported = { os: [t.os], cpu: [t.cpu], ...(t.libc ? { libc: [t.libc] } : {}) };
  // Wine shows a symlink as a plain folder, so Node under Wine would not follow pnpm's
  // symlinked layout to the package's own dependencies (real Windows gets junctions).
  const env = app.install(dir, [mainTarball, platformTarball(t)], supported, { hoisted: Boolean(t.check.wine) });
  const more = servers ? [tls.write(dir, t.tuple, servers, runtimes.seenBy(t.check))] : [];
  for (const line of app.run(dir, runtimes.runner(t.check), t.tuple, env, more)) console.log(line);
}

/** The structural checks a target asks for, if any. */
const structural = (t) => (t.check.kind === 'inspect' ? t.check : t.check.inspect);

function inspect(t) {
  const expected = structural(t);
  const binary = fromTarball(platformTarball(t), binaryOf(t));
  const found = problems(binary, expected);
  check(found.length === 0, `${t.tuple}: ${found.join('; ')}`);
  // The same checks against another target's binary must fail.
  const other =
    targets.find((o) => structural(o) && o.tuple !== t.tuple && structural(o).arch !== expected.arch) ||
    targets.find((o) => o.tuple !== t.tuple);
  const wrong = problems(fromTarball(platformTarball(other), binaryOf(other)), expected);
  check(wrong.length > 0, `${t.tuple}: its checks pass the ${other.tuple} binary too`);
  const passed =
    expected.format === 'mach-o'
      ? `Mach-O ${expected.arch}, exports _napi_register_module_v1, no undefined napi symbols, macOS ${expected.minMacos}+${expected.adhoc ? ', ad-hoc signed' : ''}`
      : `PE32+ ${expected.arch} DLL, exports only napi_register_module_v1, imports only system DLLs and no napi functions`;
  if (!found.length) console.log(`${t.tuple}: ${passed} (the ${other.tuple} binary fails: ${wrong[0]})`);
}

/** The install test on this machine, with the running Node. */
function here() {
  const { runningLibc, tupleFor } = require('../../lib/native.js');
  const tuple = tupleFor(process.platform, process.arch, process.platform === 'linux' ? runningLibc() : undefined);
  const t = targets.find((x) => x.tuple === tuple);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-here-'));
  try {
    const dir = path.join(work, 'app');
    const env = app.install(dir, [mainTarball, platformTarball(t)]);
    for (const line of app.run(dir, [process.execPath], tuple, env)) console.log(line);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  console.log(`test:platforms --here: ${tuple} passed with Node ${process.version}`);
}

async function main() {
  if (process.argv.includes('--here')) return here();
  tools.requireLinuxX64();
  const missing = [mainTarball, ...targets.map(platformTarball)].filter((f) => !fs.existsSync(f));
  if (missing.length) {
    throw new Error(`missing ${missing.map((f) => path.relative(root, f)).join(', ')}: run \`pnpm build:platforms\` first`);
  }
  if (targets.some((t) => t.check.qemu)) {
    tools.debian({
      'qemu-user-static': '/usr/bin/qemu-aarch64-static',
      'libc6-arm64-cross': '/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1',
      'libstdc++6-arm64-cross': '/usr/aarch64-linux-gnu/lib/libstdc++.so.6',
    });
  }
  if (targets.some((t) => t.check.wine)) {
    // mingw-w64 builds the test-only bcryptprimitives.dll the Wine prefix gets.
    tools.debian({ wine64: runtimes.wine() || '/usr/lib/wine/wine64', 'gcc-mingw-w64-x86-64': '/usr/bin/x86_64-w64-mingw32-gcc' });
  }
  const started = Date.now();
  checkManifests();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-platforms-'));
  try {
    for (const t of targets) {
      // Started for the one target that asks, so no server waits through the others.
      let servers = null;
      try {
        if (structural(t)) inspect(t);
        if (t.check.tls) servers = await tls.start();
        if (t.check.kind === 'run') runOn(t, work, servers);
      } catch (e) {
        failures.push(`${t.tuple}: ${e.message}${e.stderr ? `\n${e.stderr}` : ''}`);
      } finally {
        if (servers) await servers.stop();
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (failures.length) throw new Error(`${failures.length} failed:\n  ${failures.join('\n  ')}`);
  console.log(`test:platforms: ${targets.length} targets passed in ${Math.round((Date.now() - started) / 1000)} s`);
}

main().catch((e) => {
  console.error(`test:platforms failed: ${e.message}`);
  process.exit(1);
});
