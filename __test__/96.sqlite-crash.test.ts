// The crash test: every acknowledged save survives a killed process. A child process
// (support/crash-child.js) saves to a SQLite store (single saves, batches, bursts
// issued together, sessions) and reports each acknowledgement on stdout as its promise
// resolves; this file kills it with SIGKILL at a random moment, over and over on the
// same file, and after each kill reopens the file and checks that every acknowledged
// message is there and equal, that positions and revisions are gapless, that no batch
// is partial, and that streams, sessions and stats agree with the messages.
//
// After each kill the whole file is checked, incrementally: the messages new since
// the previous check are read and checked one by one (positions continue gapless,
// revisions continue, batches whole, acknowledgements equal, and the JSON read agrees
// with the object read), and the totals (stats, stream info, session counters) are
// checked for the whole file. Every fifth check also reads back every message checked
// before and compares it to the byte with what was read then. After the last kill
// everything is checked again from scratch, message by message. Set CRASH_SEED to
// replay a run.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SqliteMessageStore } from '@auto-engineer/message-store';
import { rng } from './support/random';
import { tempDbPath } from './support/stores';

const CHILD = path.join(__dirname, 'support', 'crash-child.js');

type Json = any;

interface Acked {
  stream: string;
  /** The message as JSON, as the child saved it. */
  text: string;
  hasTimestamp: boolean;
  sessionId: string;
  messageType: string | null;
}

/** What the parent knows the file must hold, across all runs so far. */
class Ledger {
  /** Every acknowledged message, by its data.id. */
  messages = new Map<string, Acked>();
  /** Those acknowledged since the last check. */
  fresh = new Map<string, Acked>();
  sessions = new Set<string>();
  ended = new Map<string, number>();
  saves = 0;
}

interface Counts {
  messageCount: number;
  commandCount: number;
  eventCount: number;
}

interface StreamCounts {
  revision: bigint;
  messageCount: number;
  firstPosition: bigint;
  lastPosition: bigint;
}

/** What the checks have seen of the file so far, carried from one check to the next. */
class Seen {
  text = '[]';
  held = 0;
  ids = new Set<string>();
  streams = new Map<string, StreamCounts>();
  sessions = new Map<string, Counts>();
  commands = 0;
  oldest = Infinity;
  newest = -Infinity;
}

/**
 * Runs one child on `file` and kills it `delay` ms after it starts (or, with
 * `afterReady`, after it reports the store open). Returns the lines it completed.
 */
function runChild(file: string, durability: string, seed: number, run: number, delay: number, afterReady: boolean) {
  return new Promise<{ lines: Json[]; signal: string | null; code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, file, durability, String(seed), String(run)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      timer = setTimeout(() => child.kill('SIGKILL'), delay);
    };
    if (!afterReady) kill();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (afterReady && timer === undefined && (out + chunk).includes('"ready":true')) kill();
      out += chunk;
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Only whole lines were acknowledged: a line cut by the kill is dropped.
      const complete = out.slice(0, out.lastIndexOf('\n') + 1);
      const lines = complete
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l));
      resolve({ lines, signal, code, stderr });
    });
  });
}

function record(ledger: Ledger, lines: Json[]) {
  for (const line of lines) {
    if (line.error) throw new Error(`the child failed: ${line.error}`);
    if (line.session) ledger.sessions.add(line.session);
    if (line.ended) ledger.ended.set(line.ended, line.at);
    if (line.s !== undefined) {
      ledger.saves += 1;
      for (const m of line.m) {
        const ack = {
          stream: line.s,
          text: JSON.stringify(m),
          hasTimestamp: m.timestamp !== undefined,
          sessionId: line.x,
          messageType: line.t,
        };
        ledger.messages.set(m.data.id, ack);
        ledger.fresh.set(m.data.id, ack);
      }
    }
  }
}

const big = (_k: string, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v);

/** A failed check, with enough to find the message. */
function fail(what: string, detail: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(detail, big)}`);
}

/**
 * Reopens the file and checks it against the ledger: the messages `seen` has checked
 * must be unchanged, the new ones are checked one by one against the acknowledgements
 * in `acks`. With a new `Seen` and every acknowledgement, a check from scratch.
 */
async function verify(
  file: string,
  ledger: Ledger,
  seen: Seen,
  acks: Map<string, Acked>,
  options: { compareOld: boolean; compareJson: boolean },
) {
  const store = new SqliteMessageStore(file);
  try {
    // The messages checked before are unchanged, to the byte (on some checks: at a few
    // hundred thousand messages this is most of the cost).
    if (options.compareOld) {
      const text: string = await store.getAllMessagesJson({ toPosition: BigInt(seen.held) });
      if (text !== seen.text) {
        let i = 0;
        while (text[i] === seen.text[i]) i++;
        fail(`messages checked before have changed, from character ${i}`, {
          before: seen.text.slice(i - 200, i + 200),
          now: text.slice(i - 200, i + 200),
        });
      }
    }
    const fresh = await store.getAllMessages({ fromPosition: BigInt(seen.held + 1) });
    const stats = await store.getStats();
    const streams: string[] = await store.getStreams();
    const sessions = await store.getSessions();

    // Positions gapless from 1; each stream's revisions gapless from 0; ids unique.
    const byId = new Map<string, Json>();
    for (let i = 0; i < fresh.length; i++) {
      const m = fresh[i];
      if (m.position !== BigInt(seen.held + i + 1)) fail(`position gap before position ${seen.held + i + 1}`, m);
      const s = seen.streams.get(m.streamId);
      const expected = s ? s.revision + 1n : 0n;
      if (m.revision !== expected) fail(`revision gap in ${m.streamId} (expected ${expected})`, m);
      if (s) {
        s.revision = expected;
        s.messageCount += 1;
        s.lastPosition = m.position;
      } else seen.streams.set(m.streamId, { revision: 0n, messageCount: 1, firstPosition: m.position, lastPosition: m.position });
      const id = m.message.data.id;
      if (seen.ids.has(id)) fail('duplicate message id', m);
      seen.ids.add(id);
      byId.set(id, m);
      const c = seen.sessions.get(m.sessionId) ?? { messageCount: 0, commandCount: 0, eventCount: 0 };
      c.messageCount += 1;
      if (m.messageType === 'command') {
        c.commandCount += 1;
        seen.commands += 1;
      } else c.eventCount += 1;
      seen.sessions.set(m.sessionId, c);
      const t = m.timestamp.getTime();
      if (t < seen.oldest) seen.oldest = t;
      if (t > seen.newest) seen.newest = t;
    }
    // The JSON read and the object read agree on the new messages.
    if (options.compareJson) {
      const tail: string = await store.getAllMessagesJson({ fromPosition: BigInt(seen.held + 1) });
      if (tail !== JSON.stringify(fresh, (_k, v) => (typeof v === 'bigint' ? String(v) : v)))
        fail('getAllMessagesJson and getAllMessages disagree', seen.held);
      seen.text = tail === '[]' ? seen.text : seen.held === 0 ? tail : `${seen.text.slice(0, -1)},${tail.slice(1)}`;
    }

    // No partial batch: every batch is all there, in consecutive positions of one
    // stream. (A batch is saved by one run, so it is all among the new messages.)
    const batches = new Map<string, Json[]>();
    for (const m of fresh) {
      const b = m.message.data.batch;
      if (b === undefined) continue;
      if (!batches.has(b)) batches.set(b, []);
      batches.get(b)!.push(m);
    }
    for (const [b, ms] of batches) {
      const size = ms[0].message.data.size;
      if (ms.length !== size)
        fail(
          `partial batch ${b}: ${ms.length} of ${size} messages`,
          ms.map((m) => m.position),
        );
      for (let i = 0; i < ms.length; i++) {
        if (ms[i].message.data.index !== i || ms[i].position !== ms[0].position + BigInt(i) || ms[i].streamId !== ms[0].streamId) {
          fail(`batch ${b} not whole and in order`, ms[i]);
        }
      }
    }

    // Every acknowledged message is there and equal.
    for (const [id, ack] of acks) {
      const m = byId.get(id);
      if (m === undefined)
        fail(seen.ids.has(id) ? 'an acknowledged message was already in the file' : 'an acknowledged message is lost', { id, ...ack });
      // A message saved without a timestamp gets the save time, as its last key.
      const want = ack.hasTimestamp ? ack.text : `${ack.text.slice(0, -1)},"timestamp":${JSON.stringify(m.timestamp)}}`;
      if (m.streamId !== ack.stream || JSON.stringify(m.message) !== want) {
        fail('an acknowledged message differs', { stored: m, acked: ack });
      }
      if (m.sessionId !== ack.sessionId) fail(`wrong session stamp (acked under ${ack.sessionId})`, m);
      if (ack.messageType !== null && m.messageType !== ack.messageType) fail(`wrong messageType (saved as ${ack.messageType})`, m);
    }

    // Streams and their info agree with the messages.
    for (const s of seen.streams.keys()) if (!streams.includes(s)) fail('a stream with messages is not listed', s);
    for (const s of streams) {
      const info = await store.getStreamInfo(s);
      if (info === null) fail('a listed stream has no info', s);
      const want = seen.streams.get(s) ?? { revision: -1n, messageCount: 0, firstPosition: 0n, lastPosition: 0n };
      const got = {
        revision: info.revision,
        messageCount: info.messageCount,
        firstPosition: info.firstPosition,
        lastPosition: info.lastPosition,
      };
      if (info.streamId !== s || JSON.stringify(got, big) !== JSON.stringify(want, big)) fail(`stream info of ${s}`, { got, want });
    }

    // Sessions: every acknowledged one is there, with counters that match its messages.
    const ids = new Set(sessions.map((s: Json) => s.sessionId));
    for (const id of ledger.sessions) if (!ids.has(id)) fail('an acknowledged session is lost', id);
    for (const s of sessions) {
      if (!streams.includes(`session-${s.sessionId}`)) fail('a session without its stream', s);
      const want = seen.sessions.get(s.sessionId) ?? { messageCount: 0, commandCount: 0, eventCount: 0 };
      const got = { messageCount: s.messageCount, commandCount: s.commandCount, eventCount: s.eventCount };
      if (JSON.stringify(got) !== JSON.stringify(want)) fail(`session counters of ${s.sessionId}`, { got, want });
      const at = ledger.ended.get(s.sessionId);
      if (at !== undefined && s.lastActivity.getTime() < at) fail(`an acknowledged endSession is lost (called at ${at})`, s);
    }
    for (const id of seen.sessions.keys()) if (id !== 'no-session' && !ids.has(id)) fail('messages stamped with an unknown session', id);

    // Stats agree.
    const n = seen.held + fresh.length;
    expect({ ...stats, memoryUsage: 0 }).toEqual({
      totalMessages: n,
      totalCommands: seen.commands,
      totalEvents: n - seen.commands,
      totalStreams: streams.length,
      totalSessions: sessions.length,
      memoryUsage: 0,
      oldestMessage: n ? new Date(seen.oldest) : undefined,
      newestMessage: n ? new Date(seen.newest) : undefined,
    });
    seen.held = n;
    return n;
  } finally {
    await store.dispose();
  }
}

async function crashLoop(durability: string, kills: number, seed: number) {
  const file = tempDbPath();
  const ledger = new Ledger();
  const seen = new Seen();
  const random = rng(seed);
  const started = Date.now();
  let checking = 0;
  let beforeReady = 0;
  for (let run = 0; run < kills; run++) {
    const delay = 30 + Math.floor(random() * 371);
    // Most runs are timed from the store being open, so that they save; every
    // fifth from the spawn, so that some die while starting or opening the file.
    const afterReady = run % 5 !== 4;
    const result = await runChild(file, durability, seed * 1000 + run, run, delay, afterReady);
    if (result.signal !== 'SIGKILL') {
      throw new Error(`child ${run} ended by itself (code ${result.code}): ${result.stderr}\n${JSON.stringify(result.lines.slice(-3))}`);
    }
    const ready = result.lines.find((l) => l.ready);
    if (!ready) beforeReady += 1;
    // The new child found exactly what the last check found.
    if (ready && ready.positions !== seen.held)
      fail(`child ${run} opened ${ready.positions} messages, the last check found ${seen.held}`, ready);
    record(ledger, result.lines);
    const t = Date.now();
    await verify(file, ledger, seen, ledger.fresh, { compareOld: run % 5 === 4 || run === kills - 1, compareJson: true });
    ledger.fresh = new Map();
    checking += Date.now() - t;
  }
  // Once more from scratch: every acknowledged message of every run, one by one.
  const t = Date.now();
  const held = await verify(file, ledger, new Seen(), ledger.messages, { compareOld: false, compareJson: false });
  checking += Date.now() - t;
  expect(held).toBe(seen.held);
  const summary =
    `crash test (durability '${durability}', seed ${seed}): ${kills} kills (${beforeReady} before the store was open), ` +
    `${ledger.saves.toLocaleString('en-US')} acknowledged saves, ${ledger.messages.size.toLocaleString('en-US')} acknowledged messages checked ` +
    `(${held.toLocaleString('en-US')} in the file), ${ledger.sessions.size} sessions, losses: 0, partial batches: 0 ` +
    `(${((Date.now() - started) / 1000).toFixed(1)} s, of which checking ${(checking / 1000).toFixed(1)} s)`;
  console.log(summary);
  // The file is large; remove it now (support/stores.ts removes its folder at exit).
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  return { ledger, held };
}

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 1e6));

describe('SqliteMessageStore survives SIGKILL', () => {
  test("durability 'process': 20 kills, nothing acknowledged lost, no partial batch", async () => {
    const { ledger } = await crashLoop('process', 20, SEED);
    expect(ledger.messages.size).toBeGreaterThan(1000);
  });

  test("durability 'power': 5 kills, nothing acknowledged lost, no partial batch", async () => {
    const { ledger } = await crashLoop('power', 5, SEED + 1);
    expect(ledger.messages.size).toBeGreaterThan(0);
  });
});
