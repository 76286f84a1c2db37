'use strict';

// Loads the native addon built for the running Node. Where it looks, in order:
//   1. NAPI_RS_NATIVE_LIBRARY_PATH, when set (the tests' own builds), and nothing else;
//   2. message-store.<tuple>.node beside the package (what `pnpm build` makes in a clone);
//   3. the platform package @auto-engineer/message-store-<tuple> (what an install
//      fetched, as an optional dependency, for this machine only).
// <tuple> names the platform as napi-rs does; TUPLES lists the ones a binary is built
// for (package.json `napi.targets`, tied by __test__/16.platforms.test.ts).

const path = require('node:path');

/** `${process.platform} ${process.arch} ${libc}` → the tuple built for it. */
const TUPLES = {
  'linux x64 glibc': 'linux-x64-gnu',
  'linux arm64 glibc': 'linux-arm64-gnu',
  'linux x64 musl': 'linux-x64-musl',
  'linux arm64 musl': 'linux-arm64-musl',
  'darwin arm64': 'darwin-arm64',
  'darwin x64': 'darwin-x64',
  // The one Windows build is made with mingw-w64 (windows-gnu); it loads into the
  // official (MSVC-built) Node because it reaches Node only through the napi_* functions.
  'win32 x64': 'win32-x64-gnu',
};

/**
 * The C library of the running process on Linux, from Node's own report: a Node
 * linked against glibc reports the glibc version it runs with, a musl one reports
 * none. (Reading /usr/bin/ldd, as napi's generated loader does, tells the host's
 * libc, not the one this Node runs with.)
 */
function runningLibc() {
  const excluded = process.report.excludeNetwork;
  process.report.excludeNetwork = true;
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  } finally {
    process.report.excludeNetwork = excluded;
  }
}

/** The platform key of TUPLES for a machine: linux keys name the C library. */
function platformKey(platform, arch, libc) {
  return platform === 'linux' ? `${platform} ${arch} ${libc}` : `${platform} ${arch}`;
}

/** The tuple built for a machine; throws, saying what is built, when none is. */
function tupleFor(platform, arch, libc) {
  const key = platformKey(platform, arch, libc);
  const tuple = TUPLES[key];
  if (tuple) return tuple;
  throw new Error(
    `@auto-engineer/message-store has no prebuilt binary for ${key}; built for: ${Object.keys(TUPLES).join(', ')}. ` +
      'To build one, clone the repository and run `pnpm build` (needs Rust).',
  );
}

function load() {
  const errors = [];
  const attempt = (what) => {
    try {
      return require(what);
    } catch (e) {
      errors.push(`  ${what}: ${e.message.split('\n')[0]}`);
      return null;
    }
  };
  // An override that does not load is an error, not a reason to load another build:
  // a test meant for its own build must not run against the release one.
  const override = process.env.NAPI_RS_NATIVE_LIBRARY_PATH;
  if (override) {
    try {
      return require(override);
    } catch (e) {
      throw new Error(
        `@auto-engineer/message-store: NAPI_RS_NATIVE_LIBRARY_PATH names ${override}, which does not load: ${e.message.split('\n')[0]}`,
      );
    }
  }
  const libc = process.platform === 'linux' ? runningLibc() : undefined;
  const tuple = tupleFor(process.platform, process.arch, libc);
  const binding = attempt(path.join(__dirname, '..', `message-store.${tuple}.node`)) || attempt(`@auto-engineer/message-store-${tuple}`);
  if (binding) return binding;
  throw new Error(
    `@auto-engineer/message-store: cannot load its native binary for ${platformKey(process.platform, process.arch, libc)} ` +
      `(Node ${process.version}). It comes in the package @auto-engineer/message-store-${tuple}, an optional ` +
      `dependency: install it beside this package (\`pnpm add @auto-engineer/message-store-${tuple}\`, or its ` +
      'tarball when installing from files). An install with optional dependencies off, or made for another ' +
      `platform, leaves it out.\nTried:\n${errors.join('\n')}`,
  );
}

module.exports = { load, tupleFor, TUPLES, platformKey, runningLibc };
