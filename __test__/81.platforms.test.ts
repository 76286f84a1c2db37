// The platforms the package ships binaries for, listed in three places that must
// agree: package.json `napi.targets` (what napi builds and packs), scripts/platforms/
// targets.js (how each is built and checked), and lib/native.js (which one a running
// Node loads). And what the loader says when it cannot load one.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const { targets } = require('../scripts/platforms/targets.js');
const { optionalDependencies } = require('../scripts/platforms/pack.js');
const { problems } = require('../scripts/platforms/inspect.js');
const native = require('../lib/native.js');
const manifest = require('../package.json');

type Target = { triple: string; tuple: string; os: string; cpu: string; libc?: string };
type Parsed = { triple: string; platformArchABI: string; platform: string; arch: string; abi: string | null };

// napi's own reading of each triple (its CLI is ESM inside, which jest does not load).
const parsed: Record<string, Parsed> = Object.fromEntries(
  JSON.parse(
    execFileSync(
      process.execPath,
      [
        '-e',
        "const { parseTriple } = require('@napi-rs/cli'); console.log(JSON.stringify(require('./package.json').napi.targets.map(parseTriple)))",
      ],
      {
        cwd: path.resolve(__dirname, '..'),
        encoding: 'utf8',
      },
    ),
  ).map((p: Parsed) => [p.triple, p]),
);

describe('the list of platforms', () => {
  it('package.json napi.targets lists the triples of targets.js, in order', () => {
    expect(manifest.napi.targets).toEqual(targets.map((t: Target) => t.triple));
    expect(manifest.napi.targets).toHaveLength(7);
  });

  it.each(targets.map((t: Target) => [t.tuple, t]))('%s: tuple, os, cpu and libc are what napi derives from the triple', (_, t) => {
    const napi = parsed[(t as Target).triple];
    const libc = napi.platform !== 'linux' ? undefined : napi.abi === 'musl' ? 'musl' : 'glibc';
    expect({ tuple: (t as Target).tuple, os: (t as Target).os, cpu: (t as Target).cpu, libc: (t as Target).libc }).toEqual({
      tuple: napi.platformArchABI,
      os: napi.platform,
      cpu: napi.arch,
      libc,
    });
  });

  it('the loader maps exactly these platforms to exactly these tuples', () => {
    expect(Object.values(native.TUPLES).sort()).toEqual(targets.map((t: Target) => t.tuple).sort());
    for (const t of targets as Target[]) expect(native.tupleFor(t.os, t.cpu, t.libc)).toBe(t.tuple);
  });

  it('the published main package names every platform package at its own version', () => {
    expect(optionalDependencies()).toEqual({
      '@auto-engineer/message-store-linux-x64-gnu': manifest.version,
      '@auto-engineer/message-store-linux-arm64-gnu': manifest.version,
      '@auto-engineer/message-store-linux-x64-musl': manifest.version,
      '@auto-engineer/message-store-linux-arm64-musl': manifest.version,
      '@auto-engineer/message-store-darwin-arm64': manifest.version,
      '@auto-engineer/message-store-darwin-x64': manifest.version,
      '@auto-engineer/message-store-win32-x64-gnu': manifest.version,
    });
  });
});

describe('the loader', () => {
  const built =
    'built for: linux x64 glibc, linux arm64 glibc, linux x64 musl, linux arm64 musl, darwin arm64, darwin x64, win32 x64. ' +
    'To build one, clone the repository and run `pnpm build` (needs Rust).';

  it.each([
    ['linux', 'ppc64', 'glibc', 'linux ppc64 glibc'],
    ['linux', 'arm', 'musl', 'linux arm musl'],
    ['win32', 'arm64', undefined, 'win32 arm64'],
    ['freebsd', 'x64', undefined, 'freebsd x64'],
  ])('names what it builds when there is no binary for %s %s %s', (platform, arch, libc, key) => {
    expect(() => native.tupleFor(platform, arch, libc)).toThrow(
      new Error(`@auto-engineer/message-store has no prebuilt binary for ${key}; ${built}`),
    );
  });

  it("tells this Node's C library from Node's own report", () => {
    expect(native.runningLibc()).toBe(process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl');
    expect(process.report.excludeNetwork).toBe(false);
  });

  /** Runs `lib/native.js`'s load() from a copy of the package with no binary beside it. */
  function loadAlone(env: Record<string, string> = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-loader-'));
    try {
      fs.mkdirSync(path.join(dir, 'lib'));
      fs.copyFileSync(path.resolve(__dirname, '../lib/native.js'), path.join(dir, 'lib', 'native.js'));
      const script = "try { require('./lib/native.js').load(); console.log('loaded') } catch (e) { console.log(e.message) }";
      const clean = { ...process.env, ...env };
      if (!env.NAPI_RS_NATIVE_LIBRARY_PATH) delete clean.NAPI_RS_NATIVE_LIBRARY_PATH;
      return { out: execFileSync(process.execPath, ['-e', script], { cwd: dir, env: clean, encoding: 'utf8' }).trim(), dir };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it('says which package to install when the platform package is missing, and what it tried', () => {
    const tuple = native.tupleFor(process.platform, process.arch, native.runningLibc());
    const { out, dir } = loadAlone();
    const lines = out.split('\n');
    expect(lines[0]).toBe(
      `@auto-engineer/message-store: cannot load its native binary for ${native.platformKey(process.platform, process.arch, native.runningLibc())} ` +
        `(Node ${process.version}). It comes in the package @auto-engineer/message-store-${tuple}, an optional dependency: ` +
        `install it beside this package (\`pnpm add @auto-engineer/message-store-${tuple}\`, or its tarball when installing from files). ` +
        'An install with optional dependencies off, or made for another platform, leaves it out.',
    );
    expect(lines[1]).toBe('Tried:');
    expect(lines.slice(2).map((l) => l.split(': ')[0].trim())).toEqual([
      path.join(dir, `message-store.${tuple}.node`),
      `@auto-engineer/message-store-${tuple}`,
    ]);
  });

  it('fails on an override that does not load instead of loading another build', () => {
    const missing = path.join(os.tmpdir(), 'no-such-build.node');
    const { out } = loadAlone({ NAPI_RS_NATIVE_LIBRARY_PATH: missing });
    expect(out).toBe(
      `@auto-engineer/message-store: NAPI_RS_NATIVE_LIBRARY_PATH names ${missing}, which does not load: Cannot find module '${missing}'`,
    );
  });
});

describe('the structural checks of binaries (macOS: no machine here runs them; Windows: beside its run under Wine)', () => {
  const elf = fs.readFileSync(
    path.resolve(__dirname, `../message-store.${native.tupleFor(process.platform, process.arch, native.runningLibc())}.node`),
  );
  it('refuse a file of another format', () => {
    expect(problems(elf, { format: 'mach-o', arch: 'arm64', minMacos: '11.0', adhoc: true })).toEqual(['format: not Mach-O 64-bit']);
    expect(problems(elf, { format: 'pe', arch: 'x64' })).toEqual(['format: not PE']);
  });
});
