// PostgresMessageStore with a primary and a synchronous standby (support/pg-standby-cluster.mjs,
// in a process of its own: jest's workers cannot import ES modules), given both hosts
// with target_session_attrs=read-write. What the application is promised: with the
// standby down, saves wait rather than fail; when the primary dies and the standby is
// promoted, every acknowledged save is on the new primary exactly once, positions stay
// gapless, and a subscription open across the switch delivers every message once.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { PostgresMessageStore } from '@auto-engineer/message-store';
import { within } from './support/pull';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Cluster = {
  url: string;
  startupMs: number;
  call: (command: 'killPrimary' | 'promote' | 'stopStandby' | 'startStandby' | 'stop') => Promise<any>;
  child: ChildProcessWithoutNullStreams;
};

/** The cluster's process: one JSON answer a line, for its start and for each command. */
async function startCluster(): Promise<Cluster> {
  const child = spawn(process.execPath, [path.join(__dirname, 'support/pg-standby-cluster.mjs')], { stdio: 'pipe' });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const waiting: Array<(answer: any) => void> = [];
  readline.createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  child.on('exit', (code, sig) => {
    for (const answer of waiting.splice(0)) answer({ ok: false, error: `the cluster's process exited (${code ?? sig}): ${stderr}` });
  });
  const answer = () => new Promise<any>((resolve) => waiting.push(resolve));
  const started = await answer();
  if (!started.ok) throw new Error(started.error);
  return {
    ...started.result,
    child,
    async call(command) {
      const answered = answer();
      child.stdin.write(`${command}\n`);
      const a = await answered;
      if (!a.ok) throw new Error(`${command}: ${a.error}`);
      return a.result;
    },
  };
}

let cluster: Cluster;
const open: PostgresMessageStore[] = [];
const writers: ChildProcessWithoutNullStreams[] = [];
beforeAll(async () => {
  cluster = await startCluster();
}, 60_000);
afterAll(async () => {
  for (const w of writers) if (w.exitCode === null) w.kill('SIGKILL');
  await Promise.all(open.map((s) => s.dispose().catch(() => {})));
  if (cluster) {
    await cluster.call('stop').catch(() => {});
    if (cluster.child.exitCode === null) cluster.child.kill('SIGKILL');
  }
}, 60_000);

function store(schema: string) {
  const s = new PostgresMessageStore({ connectionString: cluster.url, schema });
  open.push(s);
  return s;
}

test('with the synchronous standby stopped, a save waits (neither resolves nor rejects), and resolves once it is back', async () => {
  const s = store('standby_down');
  await s.saveMessages('s', [
    { type: 'Before', data: { i: 0 } },
    { type: 'Before', data: { i: 1 } },
  ]);
  await cluster.call('stopStandby');
  let settled: string | null = null;
  const saving = s.saveMessage('s', { type: 'During', data: { i: 2 } }).then(
    (v) => {
      settled = 'resolved';
      return v;
    },
    (e) => {
      settled = `rejected: ${e.code} ${e.message}`;
      throw e;
    },
  );
  // Still waiting after this long is what counts; a busy machine only makes it likelier.
  await sleep(1500);
  expect(settled).toBeNull();
  await cluster.call('startStandby');
  await expect(within(saving, 30_000, 'the save once the standby was back')).resolves.toBeUndefined();
  expect((await s.getMessages('s')).map((m) => [m.message.type, m.message.data.i, m.revision, m.position])).toEqual([
    ['Before', 0, 0n, 1n],
    ['Before', 1, 1n, 2n],
    ['During', 2, 2n, 3n],
  ]);
}, 90_000);

type Line = {
  ack?: boolean;
  done?: boolean;
  w: number;
  s: string;
  keys: string[];
  t0: number;
  t: number;
  code?: string | null;
  message?: string;
};

/** Writer 4 gives up after this long; the others keep the default (30 s), longer than the switch. */
const IMPATIENT_MS = 250;
/** How long the primary stays dead before the standby is promoted (a monitor noticing, then deciding). */
const NO_PRIMARY_MS = 1000;

test('failover under load: 4 writer processes, the primary killed, the standby promoted a second later; in-flight saves applied once or refused as a failover, none acknowledged lost or doubled, positions gapless, a subscription delivers each once', async () => {
  const schema = 'failover';
  const reader = store(schema);
  await reader.getStats(); // the schema exists before the writers and the subscription start
  const sub = reader.subscribe();
  const delivered: any[] = [];
  let subscriptionError: unknown = null;
  const following = (async () => {
    try {
      for await (const m of sub) delivered.push(m);
    } catch (e) {
      subscriptionError = e;
    }
  })();

  const acks: Line[] = [];
  const rejects: Line[] = [];
  const done = new Set<number>();
  const exits: Array<Promise<{ w: number; code: number | null; stderr: string }>> = [];
  for (const w of [1, 2, 3, 4]) {
    const args = [path.join(__dirname, 'support/pg-failover-writer.cjs'), cluster.url, schema, String(w)];
    const child = spawn(process.execPath, w === 4 ? [...args, String(IMPATIENT_MS)] : args, { stdio: 'pipe' });
    writers.push(child);
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    readline.createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text) as Line;
      if (line.done) done.add(line.w);
      else if (line.ack) acks.push(line);
      else rejects.push(line);
    });
    exits.push(new Promise((resolve) => child.on('exit', (code) => resolve({ w, code, stderr }))));
  }
  /** Resolves once `check` holds; a writer that exits first, or 45 s without, fails the test. */
  const until = async (what: string, check: () => boolean) => {
    const deadline = Date.now() + 45_000;
    while (!check()) {
      const gone = writers.find((c) => c.exitCode !== null);
      if (gone)
        throw new Error(
          `${what}: writer ${writers.indexOf(gone) + 1} exited (${gone.exitCode}): ${(await exits[writers.indexOf(gone)]).stderr}`,
        );
      if (Date.now() > deadline) throw new Error(`${what}: not within 45 s (${acks.length} acknowledged, ${rejects.length} rejected)`);
      await sleep(5);
    }
  };

  // Every writer connected first: a store that never connected does not wait out a failover.
  await until(
    '300 saves acknowledged, some by every writer',
    () => acks.length >= 300 && [1, 2, 3, 4].every((w) => acks.some((a) => a.w === w)),
  );
  const { stoppedAt } = await cluster.call('killPrimary');
  const atKill = acks.length;
  await sleep(NO_PRIMARY_MS);
  const promoting = Date.now();
  await cluster.call('promote');
  const atPromote = acks.length;
  await until('300 more saves acknowledged after the promotion', () => acks.length >= atPromote + 300);
  for (const c of writers) c.stdin.end('stop\n');
  const ended = await within(Promise.all(exits), 60_000, 'the writers to stop');
  expect(ended.map((e) => [e.w, e.code === 0 ? 0 : `${e.code}: ${e.stderr}`])).toEqual([1, 2, 3, 4].map((w) => [w, 0]));
  expect([...done].sort()).toEqual([1, 2, 3, 4]);

  // On the new primary: the old one is gone, so this can only be the promoted standby.
  const checker = store(schema);
  const stored = await checker.getAllMessages();
  const n = stored.length;
  expect(stored.map((m) => m.position)).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
  const byStream = new Map<string, bigint[]>();
  for (const m of stored) byStream.set(m.streamId, [...(byStream.get(m.streamId) ?? []), m.revision]);
  for (const [streamId, revisions] of byStream)
    expect([streamId, revisions]).toEqual([streamId, Array.from({ length: revisions.length }, (_, i) => BigInt(i))]);

  const times = new Map<string, number>();
  for (const m of stored) times.set(m.message.data.k, (times.get(m.message.data.k) ?? 0) + 1);
  const lost = acks.flatMap((a) => a.keys).filter((k) => !times.has(k));
  const duplicated = [...times].filter(([, count]) => count > 1).map(([k]) => k);
  const settledKeys = new Set([...acks, ...rejects].flatMap((l) => l.keys));
  const unknown = [...times.keys()].filter((k) => !settledKeys.has(k));
  expect({ lost, duplicated, unknown }).toEqual({ lost: [], duplicated: [], unknown: [] });
  const acknowledged = acks.reduce((n, a) => n + a.keys.length, 0);
  const found = acks.flatMap((a) => a.keys).filter((k) => times.has(k)).length;
  const streamOf = new Map([...acks, ...rejects].flatMap((l) => l.keys.map((k) => [k, l.s] as const)));
  expect(stored.filter((m) => m.streamId !== streamOf.get(m.message.data.k)).map((m) => [m.message.data.k, m.streamId])).toEqual([]);

  // Refused: only the impatient writer, only as a failover, and each refused save whole
  // or not at all (it may have committed before the connection broke).
  const timeout = 'ERR_MESSAGE_STORE_FAILOVER_TIMEOUT';
  expect(rejects.map((r) => [r.w, r.code === timeout ? r.code : `${r.code}: ${r.message}`])).toEqual(rejects.map(() => [4, timeout]));
  expect(rejects.length).toBeGreaterThan(0);
  expect(rejects[0].message).toMatch(
    new RegExp(
      `^PostgreSQL at 127\\.0\\.0\\.1:\\d+, 127\\.0\\.0\\.1:\\d+: the connection was lost and no server accepted writes within ${IMPATIENT_MS} ms `,
    ),
  );
  const partial = rejects.filter((r) => new Set(r.keys.map((k) => times.get(k) ?? 0)).size > 1).map((r) => r.keys);
  expect(partial).toEqual([]);
  const refusedThenStored = rejects.filter((r) => times.has(r.keys[0])).length;

  // Each patient writer had saves in flight when the primary died (sent before the
  // promotion began): they waited, and were applied once the new primary was there.
  for (const w of [1, 2, 3]) expect([w, acks.some((a) => a.w === w && a.t0 < promoting && a.t >= promoting)]).toEqual([w, true]);

  await within(
    (async () => {
      while (delivered.length < n && subscriptionError === null) await sleep(20);
    })(),
    30_000,
    `the subscription to deliver all ${n} (it has ${delivered.length})`,
  );
  await sub.close();
  await following;
  expect(subscriptionError).toBeNull();
  expect(delivered.map((m) => [m.position, m.streamId, m.revision, m.message.data.k])).toEqual(
    stored.map((m) => [m.position, m.streamId, m.revision, m.message.data.k]),
  );

  // The wait each writer saw: from the moment the primary stopped answering to the
  // acknowledgement of that writer's first save sent after it. (The first acknowledgement
  // after it may be of a save committed before it, its answer still on the way.)
  const waits = [1, 2, 3].map((w) => {
    const first = acks.find((a) => a.w === w && a.t0 >= stoppedAt);
    if (!first) throw new Error(`writer ${w} had no save sent after the kill acknowledged`);
    return first.t - stoppedAt;
  });
  // And the longest any one save stayed pending across the switch.
  const longest = Math.max(...acks.filter((a) => a.t >= stoppedAt).map((a) => a.t - Math.max(a.t0, stoppedAt)));
  console.log(
    `postgres failover: ${acknowledged} messages in ${acks.length} saves acknowledged, ${found} found, lost ${lost.length}, duplicated ${duplicated.length}; ` +
      `${rejects.length} saves refused as a failover by the writer with failoverTimeout ${IMPATIENT_MS} ms (${refusedThenStored} of them had been applied, once); ` +
      `no primary for ${NO_PRIMARY_MS} ms before the promotion: the other writers waited at most ${Math.max(...waits)} ms` +
      ` (per writer ${waits.join('/')} ms; longest single save after the kill ${longest} ms; ${atKill} saves acknowledged before the kill, ${atPromote - atKill} between it and the promotion's end; cluster up in ${cluster.startupMs} ms)`,
  );
}, 120_000);
