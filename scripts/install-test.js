// Install test (`pnpm test:install`): pack the main package and this machine's
// platform package from the `pnpm build` output, the way a publish lays them out, add
// both tarballs to a fresh project in a temporary folder with Rust off the PATH, and
// run the Quick Start from ESM and CommonJS and a SQLite save / reopen / read. Proves
// the tarballs carry what users need and nothing else, and that the main package finds
// its binary in the platform package. `pnpm test:platforms` does the same for every
// target, from `pnpm build:platforms`.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { packAll } = require('./platforms/pack.js');
const app = require('./platforms/app.js');
const { runningLibc, tupleFor } = require('../lib/native.js');

const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-install-'));
const { napi } = require('../package.json');

/** The files of a tarball, without the `package/` prefix. */
const listing = (tarball) =>
  execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));

try {
  const tuple = tupleFor(process.platform, process.arch, process.platform === 'linux' ? runningLibc() : undefined);
  const binary = `${napi.binaryName}.${tuple}.node`;
  if (!fs.existsSync(path.join(root, binary))) throw new Error(`missing ${binary}: run \`pnpm build\` first`);
  // napi keeps its folders inside the project; the rest is in the temporary folder.
  const inside = path.join(root, '.tmp', 'install-test');
  fs.rmSync(inside, { recursive: true, force: true });
  const artifacts = path.join(inside, 'artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  fs.copyFileSync(path.join(root, binary), path.join(artifacts, binary));
  const npmDir = path.join(inside, 'npm');
  const [main, platform] = packAll({ tuples: [tuple], from: artifacts, npmDir, dest: path.join(work, 'dist') });

  const files = listing(main);
  const bad = files.filter((f) => /^(target|src|node_modules|__test__|scripts|benchmark)\/|\.node$/.test(f));
  if (bad.length) throw new Error(`the main tarball carries files users do not need: ${bad.slice(0, 5).join(', ')}`);
  const platformFiles = listing(platform).sort();
  if (JSON.stringify(platformFiles) !== JSON.stringify([binary, 'README.md', 'package.json'].sort())) {
    throw new Error(`the platform tarball holds ${JSON.stringify(platformFiles)}`);
  }
  console.log(`packed ${path.basename(main)} (${files.length} files) and ${path.basename(platform)}`);

  const dir = path.join(work, 'app');
  const env = app.install(dir, [main, platform]);
  for (const line of app.run(dir, [process.execPath], tuple, env)) console.log(line);
  // The command the package's `bin` installs, as `npx message-store` runs it.
  const bin = path.join(dir, 'node_modules', '.bin', process.platform === 'win32' ? 'message-store.cmd' : 'message-store');
  const stats = JSON.parse(execFileSync(bin, ['stats', 'memory:', '--json'], { cwd: dir, env, encoding: 'utf8' }));
  if (stats.totalMessages !== 0) throw new Error(`message-store stats memory: printed ${JSON.stringify(stats)}`);
  console.log(`${tuple}: message-store stats memory: --json printed totalMessages 0`);
  console.log('install test: passed');
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
