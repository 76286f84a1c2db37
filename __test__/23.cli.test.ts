// The `message-store` command (bin/message-store.js, docs/cli.md), run as a user runs
// it, in a process of its own with its output piped: the exact texts it prints, its
// exit statuses, histories moved between SQLite files and PostgreSQL schemas and
// checked, bad input refused with nothing half-done, copies interrupted (Ctrl-C,
// SIGKILL) and resumed without a message twice, and tail following a store that
// another process writes.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostgresMessageStore, SqliteMessageStore } from '@auto-engineer/message-store';
import { Client } from 'pg';

const BIN = path.join(__dirname, '..', 'bin', 'message-store.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-cli-'));
const file = (name: string) => path.join(dir, name);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const url = process.env.DATABASE_URL as string;
let schemas = 0;
/** A PostgreSQL locator for a schema no other test uses, and how the command prints it (password hidden). */
function pg() {
  const u = new URL(url);
  u.searchParams.set('schema', `cli_${process.pid}_${Date.now() % 100000}_${++schemas}`);
  const locator = u.toString();
  if (u.password !== '') u.password = '***';
  return { locator, shown: u.toString(), schema: u.searchParams.get('schema') as string };
}

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the command with its output piped. */
function start(args: string[], stdin: 'ignore' | 'pipe' = 'ignore') {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d) => {
    out.stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d) => {
    out.stderr += d;
  });
  const done = new Promise<Ran>((resolve) => child.on('close', (status, signal) => resolve({ status, signal, ...out })));
  return { child, out, done };
}

/** Runs the command to its end; `input` is its standard input. */
async function run(args: string[], input?: string): Promise<Ran> {
  const c = start(args, input === undefined ? 'ignore' : 'pipe');
  if (input !== undefined) c.child.stdin!.end(input);
  return c.done;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (up to a minute) until `ready()` holds. */
async function until(ready: () => boolean, what: string) {
  for (let waited = 0; !ready(); waited += 10) {
    if (waited > 60000) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A SQLite store file's size with its write-ahead log: what a copy into it has written. */
function written(db: string) {
  let n = 0;
  for (const f of [db, `${db}-wal`]) {
    try {
      n += fs.statSync(f).size;
    } catch {
      // Not there yet.
    }
  }
  return n;
}

// A history as the command exports it: times and sessions fixed, so every output is exact.
const HISTORY = `${[
  '{"format":"message-store-history","version":1,"after":0,"lastPosition":4,"messages":4,"streams":3,"sessions":[{"sessionId":"session-1","startedAt":"2026-12-04T19:45:01.000Z","lastActivity":"2026-12-04T19:45:03.000Z"}]}',
  '{"streamId":"orders-1","createdAt":"2026-12-04T19:45:00.000Z"}',
  '{"position":1,"streamId":"orders-1","revision":0,"messageType":"command","timestamp":"2026-12-04T19:45:00.000Z","message":{"type":"PlaceOrder","data":{"total":30},"requestId":"r-1"}}',
  '{"position":2,"streamId":"orders-1","revision":1,"messageType":"event","timestamp":"2026-12-04T19:45:02.000Z","sessionId":"session-1","message":{"type":"OrderPlaced","data":{"total":30},"correlationId":"c-1"}}',
  '{"streamId":"session-session-1","createdAt":"2026-12-04T19:45:01.000Z"}',
  '{"streamId":"users","createdAt":"2026-12-04T19:45:03.000Z"}',
  '{"position":3,"streamId":"users","revision":0,"messageType":"command","timestamp":"2026-12-04T19:45:03.000Z","sessionId":"session-1","message":{"type":"Rename","data":{"to":"Ann"}}}',
  '{"position":4,"streamId":"orders-1","revision":2,"messageType":"event","timestamp":"2026-12-04T19:45:04.000Z","message":{"type":"OrderShipped","data":{"by":"post"},"timestamp":"2020-01-02T03:04:05.678Z"}}',
].join('\n')}\n`;
const LINES = HISTORY.split('\n').slice(0, -1);
/** historyDigest of HISTORY: SHA-256 of its message lines. */
const SHA = createHash('sha256')
  .update(
    LINES.filter((l) => l.startsWith('{"position"'))
      .map((l) => `${l}\n`)
      .join(''),
  )
  .digest('hex');
const STATS_JSON =
  '{"totalMessages":4,"totalCommands":2,"totalEvents":2,"totalStreams":3,"totalSessions":1,"oldestMessage":"2026-12-04T19:45:00.000Z","newestMessage":"2026-12-04T19:45:04.000Z"}\n';

const historyFile = file('history.ndjson');
/** A SQLite store holding HISTORY, made by the command's import. */
const known = file('known.db');

beforeAll(async () => {
  fs.writeFileSync(historyFile, HISTORY);
  const r = await run(['import', historyFile, known]);
  expect(r).toEqual({
    status: 0,
    signal: null,
    stdout: '',
    stderr: `imported 4 messages (3 streams, 1 session) from ${historyFile} to ${known}\n`,
  });
});

describe('usage', () => {
  test('--help prints every command, the locators and the exit statuses', async () => {
    const r = await run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`usage: message-store <command> [arguments] [options]

Moves a message store's history between stores, and looks into a store.

commands:
  copy <from> <to>        copy every stream, message and session of one store into another, checked at the end
  export <from> [file]    write a store's history as NDJSON to a file (- or none: standard output)
  import <file> <to>      write an NDJSON history (- : standard input) into a store
  tail <store>            print messages as they are saved, until Ctrl-C
  stats <store>           counts of messages, commands, events, streams, sessions; first and last save time
  streams <store>         every stream, in creation order
  sessions <store>        every session

stores:
  memory:                                  an empty store in this process (a copy's target, to check)
  ./bus.db, sqlite:./bus.db                a SQLite file
  postgres://user:pw@host/db?schema=bus    a PostgreSQL schema (default message_store)

options:
  -h, --help       this text; message-store <command> --help for a command's
  --version        the package's version

exit statuses:
  0    done
  1    a store failed (connection, file, anything unexpected)
  2    usage: bad arguments, an unknown locator
  3    the history is invalid (a malformed line, cut short, an unknown format version)
  4    the target is not empty, or holds another history
  5    a copy's check failed: the target does not hold the source's messages
  130  interrupted (Ctrl-C, SIGTERM): a copy or import keeps whole chunks; run it again to continue

More: docs/cli.md in the package (@auto-engineer/message-store).
`);
  });

  test("a command's --help starts with its usage and ends with the exit statuses", async () => {
    for (const [command, usage] of [
      ['copy', 'message-store copy <from> <to> [--quiet]'],
      ['export', 'message-store export <from> [file] [--quiet]'],
      ['import', 'message-store import <file> <to> [--quiet]'],
      ['tail', 'message-store tail <store> [--stream S] [--names A,B] [--after P] [--json]'],
      ['stats', 'message-store stats <store> [--json]'],
      ['streams', 'message-store streams <store> [--json]'],
      ['sessions', 'message-store sessions <store> [--json]'],
    ]) {
      const r = await run([command, '--help']);
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(r.stdout.startsWith(`usage: ${usage}\n\n`)).toBe(true);
      expect(r.stdout.endsWith('run it again to continue\n')).toBe(true);
    }
  });

  test.each([
    [[], "message-store: no command given\nrun 'message-store --help' for the commands\n"],
    [['frobnicate'], "message-store: unknown command 'frobnicate'\nrun 'message-store --help' for the commands\n"],
    [['--frob'], "message-store: unknown option --frob\nrun 'message-store --help' for the commands\n"],
    [['stats'], 'message-store stats: missing <store>\nusage: message-store stats <store> [--json]\n'],
    [['stats', 'a.db', 'b.db'], "message-store stats: unexpected argument 'b.db'\nusage: message-store stats <store> [--json]\n"],
    [['stats', 'a.db', '--quiet'], 'message-store stats: unknown option --quiet\nusage: message-store stats <store> [--json]\n'],
    [['copy', 'a.db'], 'message-store copy: missing <to>\nusage: message-store copy <from> <to> [--quiet]\n'],
    [
      ['tail', 'a.db', '--stream'],
      'message-store tail: --stream needs a value\nusage: message-store tail <store> [--stream S] [--names A,B] [--after P] [--json]\n',
    ],
    [
      ['tail', 'a.db', '--after', 'x'],
      "message-store tail: --after must be a position (a whole number), got 'x'\nusage: message-store tail <store> [--stream S] [--names A,B] [--after P] [--json]\n",
    ],
    [
      ['stats', 'mysql://h/db'],
      "message-store stats: <store>: unknown store locator scheme 'mysql:': use 'memory:', a SQLite file's path or 'sqlite:<path>', or a 'postgres://' or 'postgresql://' URL\nusage: message-store stats <store> [--json]\n",
    ],
    [
      ['copy', 'a.db', 'sqlite:'],
      'message-store copy: <to>: the locator "sqlite:" names no file: use \'sqlite:<path>\'\nusage: message-store copy <from> <to> [--quiet]\n',
    ],
    [
      ['copy', 'a.db', 'sqlite:./a.db'],
      'message-store copy: <from> and <to> name the same store\nusage: message-store copy <from> <to> [--quiet]\n',
    ],
  ])('%j is a usage error: exit status 2', async (args, stderr) => {
    expect(await run(args)).toEqual({ status: 2, signal: null, stdout: '', stderr });
  });

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    expect(await run(['--version'])).toEqual({ status: 0, signal: null, stdout: `${version}\n`, stderr: '' });
  });

  test('a store that cannot be opened: exit status 1, named', async () => {
    const missing = file('missing.db');
    const reason = `cannot open the message store: ${missing} does not exist (a read-only store opens an existing file and never creates one)`;
    expect(await run(['stats', missing])).toEqual({ status: 1, signal: null, stdout: '', stderr: `message-store stats: ${reason}\n` });
    expect(await run(['export', missing])).toEqual({ status: 1, signal: null, stdout: '', stderr: `message-store export: ${reason}\n` });
    expect(fs.existsSync(missing)).toBe(false);
    expect(await run(['import', file('nothing.ndjson'), file('n.db')])).toEqual({
      status: 1,
      signal: null,
      stdout: '',
      stderr: `message-store import: cannot read ${file('nothing.ndjson')}: no such file\n`,
    });
    expect(fs.existsSync(file('n.db'))).toBe(false);
  });
});

describe('stats, streams, sessions', () => {
  test('tables', async () => {
    expect(await run(['stats', known])).toEqual({
      status: 0,
      signal: null,
      stderr: '',
      stdout: `messages     4
commands     2
events       2
streams      3
sessions     1
first saved  2026-12-04T19:45:00.000Z
last saved   2026-12-04T19:45:04.000Z
`,
    });
    expect(await run(['streams', `sqlite:${known}`])).toEqual({
      status: 0,
      signal: null,
      stderr: '',
      stdout: `STREAM             REVISION  MESSAGES  FIRST  LAST  CREATED                   LAST SAVED
orders-1                  2         3      1     4  2026-12-04T19:45:00.000Z  2026-12-04T19:45:04.000Z
session-session-1        -1         0      -     -  2026-12-04T19:45:01.000Z  -
users                     0         1      3     3  2026-12-04T19:45:03.000Z  2026-12-04T19:45:03.000Z
`,
    });
    expect(await run(['sessions', known])).toEqual({
      status: 0,
      signal: null,
      stderr: '',
      stdout: `SESSION    STARTED                   LAST ACTIVITY             MESSAGES  COMMANDS  EVENTS
session-1  2026-12-04T19:45:01.000Z  2026-12-04T19:45:03.000Z         2         1       1
`,
    });
  });

  test('--json', async () => {
    expect(await run(['stats', known, '--json'])).toEqual({ status: 0, signal: null, stderr: '', stdout: STATS_JSON });
    const streams = await run(['streams', known, '--json']);
    expect(JSON.parse(streams.stdout)).toEqual([
      {
        streamId: 'orders-1',
        revision: 2,
        messageCount: 3,
        firstPosition: 1,
        lastPosition: 4,
        createdAt: '2026-12-04T19:45:00.000Z',
        lastUpdated: '2026-12-04T19:45:04.000Z',
      },
      {
        streamId: 'session-session-1',
        revision: -1,
        messageCount: 0,
        firstPosition: 0,
        lastPosition: 0,
        createdAt: '2026-12-04T19:45:01.000Z',
        lastUpdated: '2026-12-04T19:45:01.000Z',
      },
      {
        streamId: 'users',
        revision: 0,
        messageCount: 1,
        firstPosition: 3,
        lastPosition: 3,
        createdAt: '2026-12-04T19:45:03.000Z',
        lastUpdated: '2026-12-04T19:45:03.000Z',
      },
    ]);
    const sessions = await run(['sessions', known, '--json']);
    expect(sessions.stdout).toBe(
      '[{"sessionId":"session-1","startedAt":"2026-12-04T19:45:01.000Z","lastActivity":"2026-12-04T19:45:03.000Z","messageCount":2,"commandCount":1,"eventCount":1}]\n',
    );
  });

  test('an empty store', async () => {
    expect((await run(['stats', 'memory:'])).stdout).toBe(
      'messages     0\ncommands     0\nevents       0\nstreams      0\nsessions     0\nfirst saved  -\nlast saved   -\n',
    );
    expect((await run(['streams', 'memory:'])).stdout).toBe('STREAM  REVISION  MESSAGES  FIRST  LAST  CREATED  LAST SAVED\n');
    expect((await run(['sessions', 'memory:', '--json'])).stdout).toBe('[]\n');
  });
});

describe('export and import', () => {
  test('export to standard output: the header, then every line', async () => {
    const r = await run(['export', known]);
    expect([r.status, r.stderr]).toEqual([0, `exported 4 messages (3 streams, 1 session) from ${known} to standard output\n`]);
    expect(r.stdout).toBe(HISTORY);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(9);
    expect(JSON.parse(lines[0])).toEqual({
      format: 'message-store-history',
      version: 1,
      after: 0,
      lastPosition: 4,
      messages: 4,
      streams: 3,
      sessions: [{ sessionId: 'session-1', startedAt: '2026-12-04T19:45:01.000Z', lastActivity: '2026-12-04T19:45:03.000Z' }],
    });
    expect(lines.slice(1, -1).map((l) => JSON.parse(l).position ?? 'stream')).toEqual(['stream', 1, 2, 'stream', 'stream', 3, 4]);
    expect(await run(['export', known, '-', '--quiet'])).toEqual({ status: 0, signal: null, stdout: HISTORY, stderr: '' });
  });

  test('export to a file, written whole', async () => {
    const out = file('export.ndjson');
    expect(await run(['export', `sqlite:${known}`, out])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `exported 4 messages (3 streams, 1 session) from sqlite:${known} to ${out}\n`,
    });
    expect(fs.readFileSync(out, 'utf8')).toBe(HISTORY);
    expect(fs.existsSync(`${out}.partial`)).toBe(false);
  });

  test('import into a new SQLite file and a fresh PostgreSQL schema: the same stats, the same export', async () => {
    const db = file('imported.db');
    const p = pg();
    expect(await run(['import', historyFile, db])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `imported 4 messages (3 streams, 1 session) from ${historyFile} to ${db}\n`,
    });
    expect(await run(['import', historyFile, p.locator])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `imported 4 messages (3 streams, 1 session) from ${historyFile} to ${p.shown}\n`,
    });
    expect((await run(['stats', db, '--json'])).stdout).toBe(STATS_JSON);
    expect((await run(['stats', p.locator, '--json'])).stdout).toBe(STATS_JSON);
    expect((await run(['export', p.locator, '--quiet'])).stdout).toBe(HISTORY);
    expect((await run(['sessions', p.locator])).stdout).toBe((await run(['sessions', known])).stdout);
  });

  test('import from standard input', async () => {
    const db = file('stdin.db');
    expect(await run(['import', '-', `sqlite:${db}`], HISTORY)).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `imported 4 messages (3 streams, 1 session) from standard input to sqlite:${db}\n`,
    });
    expect((await run(['export', db, '--quiet'])).stdout).toBe(HISTORY);
  });

  /** Imports `text` into a new file: exit status 3 with `reason`, and no file left. */
  async function refused(name: string, text: string, reason: string) {
    const input = file(`${name}.ndjson`);
    const db = file(`${name}.db`);
    fs.writeFileSync(input, text);
    expect(await run(['import', input, db])).toEqual({
      status: 3,
      signal: null,
      stdout: '',
      stderr: `message-store import: ${input}: ${reason}\n`,
    });
    expect(fs.readdirSync(dir).filter((f) => f.startsWith(`${name}.db`))).toEqual([]);
  }

  test('a malformed line: exit status 3, its line number and what is wrong, nothing kept', async () => {
    const lines = [...LINES];
    lines[3] = lines[3].slice(0, 40);
    await refused(
      'malformed',
      `${lines.join('\n')}\n`,
      'line 4: not a history line (EOF while parsing a string at line 1 column 40); nothing of it was kept: the store is empty again',
    );
    const gap = [...LINES];
    gap[6] = gap[6].replace('"position":3', '"position":5');
    await refused(
      'gap',
      `${gap.join('\n')}\n`,
      'line 7: position 5 where 3 was expected: positions must run without a gap; nothing of it was kept: the store is empty again',
    );
  });

  test('a history cut short: exit status 3', async () => {
    await refused(
      'short',
      `${LINES.slice(0, 5).join('\n')}\n`,
      'the history is cut short: its header promises 4 messages and 3 streams, and it ends at line 5 after 2 and 2; nothing of it was kept: the store is empty again',
    );
    await refused('nothing', '', 'the history is empty: it has no header line');
  });

  test('a header of format version 2: exit status 3', async () => {
    await refused(
      'version2',
      HISTORY.replace('"version":1', '"version":2'),
      'line 1: format version 2 is unknown: this package reads version 1; upgrade @auto-engineer/message-store to read it',
    );
  });

  test('a target that holds another history: exit status 4, the target unchanged', async () => {
    const db = file('other.db');
    const other = new SqliteMessageStore(db);
    await other.saveMessage('x', { type: 'Other', data: {} });
    await other.dispose();
    const before = (await run(['export', db, '--quiet'])).stdout;
    expect(await run(['import', historyFile, db])).toEqual({
      status: 4,
      signal: null,
      stdout: '',
      stderr: `resuming: the target holds positions 1 to 1 already\nmessage-store import: ${historyFile}: the store's message at position 1 is not the history's: the store holds another history\n`,
    });
    expect(await run(['copy', known, db])).toEqual({
      status: 4,
      signal: null,
      stdout: '',
      stderr:
        "resuming: the target holds positions 1 to 1 already\nmessage-store copy: the store's message at position 1 is not the history's: the store holds another history\n",
    });
    expect((await run(['export', db, '--quiet'])).stdout).toBe(before);
  });
});

describe('copy', () => {
  test('SQLite → SQLite, checked; again: resumed, nothing to do', async () => {
    const db = file('copy.db');
    expect(await run(['copy', known, `sqlite:${db}`])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `copied 4 messages (3 streams, 1 session) from ${known} to sqlite:${db}; checked: both hold positions 1 to 4, sha256 ${SHA}\n`,
    });
    expect((await run(['export', db, '--quiet'])).stdout).toBe(HISTORY);
    expect(await run(['copy', known, `sqlite:${db}`])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `resuming: the target holds positions 1 to 4 already\ncopied 4 messages (3 streams, 1 session) from ${known} to sqlite:${db}, 0 of them in this run; checked: both hold positions 1 to 4, sha256 ${SHA}\n`,
    });
    expect(await run(['copy', known, 'memory:', '--quiet'])).toEqual({ status: 0, signal: null, stdout: '', stderr: '' });
  });

  test('SQLite → PostgreSQL → SQLite, checked', async () => {
    const p = pg();
    expect(await run(['copy', known, p.locator])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `copied 4 messages (3 streams, 1 session) from ${known} to ${p.shown}; checked: both hold positions 1 to 4, sha256 ${SHA}\n`,
    });
    expect((await run(['stats', p.locator, '--json'])).stdout).toBe(STATS_JSON);
    const back = file('back.db');
    expect(await run(['copy', p.locator, back])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `copied 4 messages (3 streams, 1 session) from ${p.shown} to ${back}; checked: both hold positions 1 to 4, sha256 ${SHA}\n`,
    });
    expect((await run(['export', back, '--quiet'])).stdout).toBe(HISTORY);
  });

  test('an empty source', async () => {
    const empty = createHash('sha256').digest('hex');
    expect(await run(['copy', 'memory:', file('empty.db')])).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: `copied 0 messages (0 streams, 0 sessions) from memory: to ${file('empty.db')}; checked: both hold no messages, sha256 ${empty}\n`,
    });
  });

  test('a source its application writes meanwhile: the copy is of the start; the next run brings the rest', async () => {
    const src = file('live.db');
    const writer = new SqliteMessageStore(src);
    for (let i = 0; i < 100; i++)
      await writer.saveMessages(
        `s-${i % 7}`,
        Array.from({ length: 500 }, (_, j) => ({ type: 'T', data: { i, j } })),
      );
    const db = file('live-copy.db');
    let writing = true;
    let saved = 50000;
    const saving = (async () => {
      while (writing) {
        await writer.saveMessage('live', { type: 'Live', data: { saved } });
        saved++;
        await sleep(1);
      }
    })();
    const copy = start(['copy', src, db]);
    const r = await copy.done;
    writing = false;
    await saving;
    expect(r.status).toBe(0);
    const m =
      /^copied ([\d,]+) messages \(8 streams, 0 sessions\) from (.*) to (.*); checked: both hold positions 1 to ([\d,]+), sha256 ([0-9a-f]{64})\nthe source gained ([\d,]+) messages? during the copy; run copy again to bring them over\n$/.exec(
        r.stderr,
      );
    expect(m).not.toBeNull();
    const copied = Number(m![1].replaceAll(',', ''));
    expect(copied).toBeGreaterThanOrEqual(50000);
    expect(m![4]).toBe(m![1]);
    expect([m![2], m![3]]).toEqual([src, db]);
    const again = await run(['copy', src, db]);
    await writer.dispose();
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(
      new RegExp(
        `^resuming: the target holds positions 1 to ${m![1]} already\\ncopied ${saved.toLocaleString('en-US')} messages \\(8 streams, 0 sessions\\) from .* to .*, ${(saved - copied).toLocaleString('en-US')} of them in this run; checked: both hold positions 1 to ${saved.toLocaleString('en-US')}, sha256 [0-9a-f]{64}\\n$`,
      ),
    );
    expect((await run(['export', db, '--quiet'])).stdout).toBe((await run(['export', src, '--quiet'])).stdout);
  });
});

describe('interrupted', () => {
  const N = 1_000_000;
  const big = file('big.db');
  let total: string;

  beforeAll(async () => {
    const s = new SqliteMessageStore(big);
    for (let i = 0; i < N; i += 1000) {
      await s.saveMessages(
        `s-${(i / 1000) % 50}`,
        Array.from({ length: 1000 }, (_, j) => ({ type: 'T', data: { k: i + j } })),
      );
    }
    await s.dispose();
    total = N.toLocaleString('en-US');
  });

  /** Starts a copy of `big` into `db`; once `db` has some 4 MiB written, sends `signal`; what the copy ended with. */
  async function cut(db: string, signal: NodeJS.Signals) {
    const c = start(['copy', big, db]);
    let ended = false;
    c.done.then(() => {
      ended = true;
    });
    await until(() => ended || written(db) > 4 << 20, 'the copy to write');
    c.child.kill(signal);
    return c.done;
  }

  /** Runs the copy again: it resumes from `head` and completes, checked. */
  async function resume(db: string, head: number) {
    const r = await run(['copy', big, db]);
    const h = head.toLocaleString('en-US');
    expect(r).toEqual({
      status: 0,
      signal: null,
      stdout: '',
      stderr: expect.stringMatching(
        new RegExp(
          `^resuming: the target holds positions 1 to ${h} already\\ncopied ${total} messages \\(50 streams, 0 sessions\\) from ${big} to ${db}, ${(N - head).toLocaleString('en-US')} of them in this run; checked: both hold positions 1 to ${total}, sha256 [0-9a-f]{64}\\n$`,
        ),
      ),
    });
    expect(JSON.parse((await run(['stats', db, '--json'])).stdout).totalMessages).toBe(N);
    return / sha256 ([0-9a-f]{64})\n$/.exec(r.stderr)![1];
  }

  async function head(db: string) {
    return JSON.parse((await run(['stats', db, '--json'])).stdout).totalMessages as number;
  }

  let digest: string;

  test('Ctrl-C: exit status 130, whole chunks kept; the same command again completes it', async () => {
    const db = file('sigint.db');
    const r = await cut(db, 'SIGINT');
    expect([r.status, r.signal, r.stdout]).toEqual([130, null, '']);
    const m = /^interrupted after position ([\d,]+): run the same command again to continue\n$/.exec(r.stderr);
    expect(m).not.toBeNull();
    const at = Number(m![1].replaceAll(',', ''));
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(N);
    expect(await head(db)).toBe(at);
    digest = await resume(db, at);
  });

  test('SIGKILL: the same command again completes it, no message twice', async () => {
    const db = file('sigkill.db');
    const r = await cut(db, 'SIGKILL');
    expect(r.signal).toBe('SIGKILL');
    const at = await head(db);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(N);
    expect(await resume(db, at)).toBe(digest);
  });

  test('SIGKILL during a copy into PostgreSQL: the same command again completes it, no message twice', async () => {
    const p = pg();
    const c = start(['copy', big, p.locator]);
    let ended = false;
    c.done.then(() => {
      ended = true;
    });
    // Killed once whole chunks are committed (the store's head moved).
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const head = async () => {
        try {
          return Number((await client.query(`SELECT position FROM "${p.schema}".store`)).rows[0]?.position ?? 0);
        } catch {
          return 0;
        }
      };
      for (let waited = 0; !ended && (await head()) === 0; waited += 20) {
        if (waited > 120000) throw new Error('timed out waiting for the copy to write');
        await sleep(20);
      }
      expect(ended).toBe(false);
      c.child.kill('SIGKILL');
      expect((await c.done).signal).toBe('SIGKILL');
      const at = await head();
      expect(at).toBeGreaterThan(0);
      expect(at).toBeLessThan(N);
      const r = await run(['copy', big, p.locator]);
      const h = at.toLocaleString('en-US');
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(
        new RegExp(
          `^resuming: the target holds positions 1 to ${h} already\\ncopied ${total} messages \\(50 streams, 0 sessions\\) from ${big} to .*, ${(N - at).toLocaleString('en-US')} of them in this run; checked: both hold positions 1 to ${total}, sha256 ${digest}\\n$`,
        ),
      );
      expect(await head()).toBe(N);
    } finally {
      await client.end();
    }
  });

  test('an export interrupted leaves no file', async () => {
    const out = file('big.ndjson');
    const c = start(['export', big, out]);
    let ended = false;
    c.done.then(() => {
      ended = true;
    });
    await until(() => ended || written(`${out}.partial`) > 4 << 20, 'the export to write');
    c.child.kill('SIGTERM');
    expect(await c.done).toEqual({ status: 130, signal: null, stdout: '', stderr: `interrupted: ${out} was not written\n` });
    expect(fs.existsSync(out) || fs.existsSync(`${out}.partial`)).toBe(false);
  });
});

describe('tail', () => {
  /** Starts tail; resolves each time its output holds `n` lines. */
  function tail(args: string[]) {
    const c = start(['tail', ...args]);
    const lines = async (n: number) => {
      await until(() => c.out.stdout.split('\n').length > n || c.child.exitCode !== null, `${n} lines from tail`);
      return c.out.stdout.split('\n').slice(0, -1);
    };
    const stop = async () => {
      c.child.kill('SIGINT');
      return c.done;
    };
    return { lines, stop, child: c.child as ChildProcess, out: () => c.out.stdout };
  }

  test('the stored messages a filter lets through, as terminal lines; Ctrl-C ends it with status 0', async () => {
    const t = tail([known, '--after', '0', '--names', 'OrderPlaced,Rename']);
    expect(await t.lines(2)).toEqual([
      '#2 orders-1@1 OrderPlaced event 2026-12-04T19:45:02.000Z {"total":30}',
      '#3 users@0 Rename command 2026-12-04T19:45:03.000Z {"to":"Ann"}',
    ]);
    const r = await t.stop();
    expect([r.status, r.stderr]).toEqual([0, '']);
    const s = tail([known, '--after', '1', '--stream', 'orders-1']);
    expect(await s.lines(2)).toEqual([
      '#2 orders-1@1 OrderPlaced event 2026-12-04T19:45:02.000Z {"total":30}',
      '#4 orders-1@2 OrderShipped event 2026-12-04T19:45:04.000Z {"by":"post"}',
    ]);
    expect((await s.stop()).status).toBe(0);
  });

  test('--json on PostgreSQL: a message saved after it started', async () => {
    const p = pg();
    const store = new PostgresMessageStore({ connectionString: url, schema: p.schema });
    try {
      await store.saveMessage('orders-9', { type: 'Old', data: {} });
      const t = tail([p.locator, '--json', '--after', '1']);
      await sleep(300);
      await store.saveMessage('orders-9', { type: 'OrderPlaced', data: { total: 30 }, correlationId: 'c-9' }, 0n);
      const [saved] = await store.getMessages('orders-9', 1n);
      const [line] = await t.lines(1);
      expect(JSON.parse(line)).toEqual({
        position: 2,
        streamId: 'orders-9',
        revision: 1,
        messageType: 'event',
        timestamp: saved.timestamp.toISOString(),
        sessionId: 'no-session',
        message: { type: 'OrderPlaced', data: { total: 30 }, correlationId: 'c-9', timestamp: saved.timestamp.toISOString() },
      });
      const r = await t.stop();
      expect([r.status, r.stderr, r.stdout.split('\n').length]).toEqual([0, '', 2]);
    } finally {
      await store.dispose();
    }
  });

  test('a SQLite file its application holds for writing: stats, streams and export read it; tail prints new messages only, by default', async () => {
    const db = file('tail.db');
    const writer = new SqliteMessageStore(db);
    try {
      await writer.saveMessage('before', { type: 'Before', data: {} });
      // The commands that only read open it beside its writer.
      expect(JSON.parse((await run(['stats', db, '--json'])).stdout).totalMessages).toBe(1);
      expect((await run(['streams', db])).stdout.split('\n')[1]).toMatch(/^before {2}\s+0 {9}1 {6}1 {5}1 {2}/);
      const exported = await run(['export', db, '--quiet']);
      expect([exported.status, exported.stdout.split('\n').length]).toEqual([0, 4]);
      const t = tail([db, '--json']);
      // It starts at the store's head when it opened, which it does not print: save
      // until it prints one; the first it prints is a new one.
      let n = 0;
      while (t.child.exitCode === null && !t.out().includes('\n')) {
        await writer.saveMessage('live', { type: 'Live', data: { n: ++n } });
        await sleep(200);
      }
      const [line] = await t.lines(1);
      const first = JSON.parse(line);
      expect(first).toMatchObject({ streamId: 'live', message: { type: 'Live' } });
      expect(first.position).toBe(first.revision + 2);
      expect(first.position).toBeGreaterThan(1);
      expect((await t.stop()).status).toBe(0);
    } finally {
      await writer.dispose();
    }
  });
});
