// An executable model of docs/behaviour.md, written plainly over arrays and maps. It imports nothing from lib/: it
// is an independent statement of the contract, used by 95.model-based.test.ts to check
// the native store step by step.
//
// Time: the model never reads a clock. Every operation that the contract says happens "now"
// takes the time as an argument; the test mocks Date.now() and passes the same value.
// Session ids are random: `createSession` takes the id the store returned.
//
// Every operation returns an Outcome: `{ ok: value }` or `{ error: ExpectedError }`.

export type MessageType = 'command' | 'event';

export type ExpectedError =
  | { kind: 'TypeError'; text: string }
  | {
      kind: 'StreamNotFoundError' | 'WrongExpectedRevisionError' | 'ConcurrencyError';
      text: string;
      streamId: string;
      expectedRevision: bigint | 'no_stream' | 'stream_exists';
      actualRevision: bigint;
    };

export type Outcome<T> = { ok: T; error?: undefined } | { ok?: undefined; error: ExpectedError };

/** One stored message. `json` is its stored text (what JSON.stringify wrote), `time` the save time. */
interface Stored {
  streamId: string;
  json: string;
  type: string;
  data: unknown;
  requestId: unknown;
  correlationId: unknown;
  messageType: MessageType;
  revision: bigint;
  position: bigint;
  time: number;
  sessionId: string;
}

interface Stream {
  revision: bigint;
  createdAt: number;
  lastUpdated: number;
  messages: Stored[];
}

interface Session {
  sessionId: string;
  startedAt: number;
  messageCount: number;
  commandCount: number;
  eventCount: number;
  lastActivity: number;
}

export interface PositionalMessage {
  streamId: string;
  message: Record<string, unknown>;
  messageType: MessageType;
  revision: bigint;
  position: bigint;
  timestamp: Date;
  sessionId: string;
}

// ---------------------------------------------------------------------------------
// Bad input: the README's "Inputs that are refused", with texts of the form
// `<argument> must be <expected>, got <what it was>` or `<path> is <problem>`.

const MAX_DEPTH = 1000;

/** How an error text names a value it refused. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string': {
      const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
      return `the string ${JSON.stringify(shown)}`;
    }
    case 'number':
      return `the number ${String(value)}`;
    case 'bigint':
      return `the bigint ${String(value)}n`;
    case 'undefined':
      return 'undefined';
    case 'object':
      return Object.prototype.toString.call(value) === '[object Date]' ? 'a Date' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

class Refused extends Error {}

function refuse(argument: string, expected: string, value: unknown): never {
  throw new Refused(`${argument} must be ${expected}, got ${describeValue(value)}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isValidDate = (v: unknown): v is Date =>
  Object.prototype.toString.call(v) === '[object Date]' && !Number.isNaN((v as Date).getTime());

/**
 * The first place (depth first, keys in Object.keys order) where `value` holds what JSON
 * cannot: a bigint, function or symbol, a cycle, or more than MAX_DEPTH levels of nesting
 * (the value itself is level 1). A value with a toJSON method is taken as what it writes.
 */
function jsonProblem(value: unknown, path: string, ancestors: object[] = []): string | undefined {
  const t = typeof value;
  if (t === 'bigint' || t === 'function' || t === 'symbol') return `${path} is a ${t}, which JSON cannot hold`;
  if (t !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.toJSON === 'function') return undefined;
  if (ancestors.includes(o)) return `${path} is a circular reference, which JSON cannot hold`;
  if (ancestors.length >= MAX_DEPTH) return `${path} is nested more than ${MAX_DEPTH} levels deep`;
  ancestors.push(o);
  let found: string | undefined;
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length && found === undefined; i++) found = jsonProblem(o[i], `${path}[${i}]`, ancestors);
  } else {
    for (const k of Object.keys(o)) {
      found = jsonProblem(o[k], `${path}.${k}`, ancestors);
      if (found !== undefined) break;
    }
  }
  ancestors.pop();
  return found;
}

/**
 * docs/behaviour.md#writing-all-or-nothing for one message; returns what JSON.stringify is to write for it:
 * upstream stores `{ ...message, timestamp: message.timestamp || now }`, so a timestamp
 * key holding undefined or null takes the save time in its place (a missing one is
 * added at read time, as the last key).
 */
function checkMessage(value: unknown, path: string, now: number): unknown {
  if (!isObject(value) || typeof value.toJSON === 'function') refuse(path, 'an object with a string "type"', value);
  if (typeof value.type !== 'string') refuse(`${path}.type`, 'a string', value.type);
  const ts = value.timestamp;
  if (ts !== undefined && ts !== null && !isValidDate(ts)) refuse(`${path}.timestamp`, 'a valid Date', ts);
  const problem = jsonProblem(value, path);
  if (problem !== undefined) throw new Refused(problem);
  return Object.hasOwn(value, 'timestamp') && (ts === undefined || ts === null) ? { ...value, timestamp: new Date(now) } : value;
}

/**
 * The stored texts, once every message passed its checks. What a toJSON method returns
 * is not checked beforehand: when JSON.stringify throws on it, the argument as a whole
 * is refused, with JSON.stringify's own words.
 */
function toTexts(stored: unknown[], argument: string): string[] {
  return stored.map((m) => {
    let text: string;
    try {
      text = JSON.stringify(m);
    } catch (e) {
      throw new Refused(`${argument} cannot be stored as JSON: ${(e as Error).message}`);
    }
    return text;
  });
}

function checkName(argument: string, value: unknown): string {
  if (typeof value !== 'string') refuse(argument, 'a string', value);
  return value;
}

function checkCount(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') refuse('count', 'a number', value);
  return value;
}

function checkInteger(argument: string, value: unknown): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  refuse(argument, 'a bigint or an integer number', value);
}

/** docs/behaviour.md#writing-expected-modes: a revision, or a mode (`'any'` is none). */
function checkExpectedRevision(value: unknown): bigint | 'no_stream' | 'stream_exists' | undefined {
  if (value === undefined || value === 'any') return undefined;
  if (value === 'no_stream' || value === 'stream_exists') return value;
  const ok = typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value));
  if (!ok || BigInt(value as bigint | number) < -1n) {
    refuse('expectedRevision', "a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists'", value);
  }
  return BigInt(value as bigint | number);
}

function checkMessageType(value: unknown): MessageType | undefined {
  if (value === undefined || value === null) return undefined;
  if (value !== 'command' && value !== 'event') refuse('messageType', "'command' or 'event'", value);
  return value;
}

/** A checked filter, in the model's own terms. `never` is set when no message can match. */
interface Filter {
  messageType?: MessageType;
  messageNames?: string[];
  streamId?: string;
  sessionId?: string;
  correlationId?: string;
  requestId?: string;
  fromPosition?: bigint;
  toPosition?: bigint;
  fromTimestamp?: number;
  toTimestamp?: number;
  jsonFilter?: Array<[string, unknown]>; // [key, JSON value] or [key, undefined] for "absent"
  never?: boolean;
}

function checkFilter(value: unknown, overrides?: Record<string, unknown>): Filter {
  if (value !== undefined && value !== null && !isObject(value)) refuse('filter', 'an object', value);
  const f = (overrides ? { ...(value as object), ...overrides } : value) as Record<string, unknown> | null | undefined;
  const out: Filter = {};
  if (f === undefined || f === null) return out;
  if (f.messageType !== undefined && f.messageType !== null) {
    if (f.messageType !== 'command' && f.messageType !== 'event') {
      refuse('filter.messageType', "'command' or 'event'", f.messageType);
    }
    out.messageType = f.messageType;
  }
  const names = f.messageNames;
  if (names !== undefined && names !== null) {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
      refuse('filter.messageNames', 'an array of strings', names);
    }
    if (names.length > 0) out.messageNames = [...names];
  }
  for (const key of ['streamId', 'sessionId', 'correlationId', 'requestId'] as const) {
    const v = f[key];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') refuse(`filter.${key}`, 'a string', v);
    out[key] = v;
  }
  out.fromPosition = checkInteger('filter.fromPosition', f.fromPosition);
  out.toPosition = checkInteger('filter.toPosition', f.toPosition);
  for (const key of ['fromTimestamp', 'toTimestamp'] as const) {
    const v = f[key];
    if (v === undefined || v === null) continue;
    if (!isValidDate(v)) refuse(`filter.${key}`, 'a valid Date', v);
    out[key] = v.getTime();
  }
  const json = f.jsonFilter;
  if (json !== undefined && json !== null) {
    if (!isObject(json)) refuse('filter.jsonFilter', 'an object', json);
    const problem = jsonProblem(json, 'filter.jsonFilter');
    if (problem !== undefined) throw new Refused(problem);
    const keys = Object.keys(json);
    // NaN and ±Infinity never equal a stored JSON value (JSON cannot hold them).
    if (keys.some((k) => typeof json[k] === 'number' && !Number.isFinite(json[k] as number))) return { never: true };
    out.jsonFilter = [];
    for (const k of keys) {
      const v = json[k];
      let text: string | undefined;
      try {
        text = v === undefined ? undefined : JSON.stringify(v);
      } catch (e) {
        // What a toJSON method returned, and JSON.stringify refused: in its own words.
        throw new Refused(`filter cannot be stored as JSON: ${(e as Error).message}`);
      }
      out.jsonFilter.push([k, text === undefined ? undefined : JSON.parse(text)]);
    }
  }
  return out;
}

/** JSON equality: numbers by value, objects ignoring key order, arrays in order. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao);
  const bk = Object.keys(bo);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

/** `data[key]` for stored JSON data (own keys, plus an array's length). */
function ownValue(data: object, key: string): unknown {
  return Object.hasOwn(data, key) ? (data as Record<string, unknown>)[key] : undefined;
}

function matches(m: Stored, f: Filter): boolean {
  if (f.never) return false;
  if (f.messageType !== undefined && m.messageType !== f.messageType) return false;
  if (f.messageNames !== undefined && !f.messageNames.includes(m.type)) return false;
  if (f.streamId !== undefined && m.streamId !== f.streamId) return false;
  if (f.sessionId !== undefined && m.sessionId !== f.sessionId) return false;
  if (f.correlationId !== undefined && m.correlationId !== f.correlationId) return false;
  if (f.requestId !== undefined && m.requestId !== f.requestId) return false;
  if (f.fromPosition !== undefined && m.position < f.fromPosition) return false;
  if (f.toPosition !== undefined && m.position > f.toPosition) return false;
  if (f.fromTimestamp !== undefined && m.time < f.fromTimestamp) return false;
  if (f.toTimestamp !== undefined && m.time > f.toTimestamp) return false;
  if (f.jsonFilter !== undefined) {
    const data = m.data;
    if (typeof data !== 'object' || data === null) return false;
    for (const [k, v] of f.jsonFilter) {
      const d = ownValue(data, k);
      if (v === undefined ? d !== undefined : !jsonEqual(d, v)) return false;
    }
  }
  return true;
}

/** Upstream's `count`: when a number > 0, the last `count` (as `slice(-count)`). */
function lastCount<T>(list: T[], count: number | undefined): T[] {
  return count !== undefined && count > 0 ? list.slice(-count) : list;
}

function outcome<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: fn() };
  } catch (e) {
    if (e instanceof Refused) return { error: { kind: 'TypeError', text: e.message } };
    if (e instanceof ConcurrencyRefusal) return { error: e.expected };
    throw e;
  }
}

class ConcurrencyRefusal extends Error {
  constructor(public expected: ExpectedError) {
    super(expected.text);
  }
}

// ---------------------------------------------------------------------------------

export class Model {
  private streams = new Map<string, Stream>(); // insertion order = creation order
  private all: Stored[] = []; // position order
  private sessions = new Map<string, Session>(); // creation order
  private current: string | null = null;

  /** Session ids in creation order (for the test to pick from). */
  sessionIds(): string[] {
    return [...this.sessions.keys()];
  }

  streamIds(): string[] {
    return [...this.streams.keys()];
  }

  /** The stream's revision, or -1n when it is unknown or empty. */
  revisionOf(streamId: string): bigint {
    return this.streams.get(streamId)?.revision ?? -1n;
  }

  /** Save times in position order (for the test to aim filters at boundaries). */
  saveTimes(): number[] {
    return this.all.map((m) => m.time);
  }

  // -- writing ------------------------------------------------------------------

  saveMessage(streamId: unknown, message: unknown, expectedRevision: unknown, messageType: unknown, now: number) {
    return this.save(streamId, message, false, expectedRevision, messageType, now);
  }

  saveMessages(streamId: unknown, messages: unknown, expectedRevision: unknown, messageType: unknown, now: number) {
    return this.save(streamId, messages, true, expectedRevision, messageType, now);
  }

  private save(
    streamIdArg: unknown,
    input: unknown,
    batch: boolean,
    expectedArg: unknown,
    typeArg: unknown,
    now: number,
  ): Outcome<undefined> {
    return outcome(() => {
      const streamId = checkName('streamId', streamIdArg);
      const expected = checkExpectedRevision(expectedArg);
      const kind = checkMessageType(typeArg);
      let list: unknown[];
      let texts: string[];
      if (batch) {
        if (!Array.isArray(input)) refuse('messages', 'an array of messages', input);
        list = input;
        const stored = [];
        for (let i = 0; i < input.length; i++) stored.push(checkMessage(input[i], `messages[${i}]`, now));
        texts = toTexts(stored, 'messages');
      } else {
        list = [input];
        texts = toTexts([checkMessage(input, 'message', now)], 'message');
      }
      // docs/behaviour.md#writing-missing-stream to #writing-expected-revision: nothing changes when refused.
      let stream = this.streams.get(streamId);
      const current = stream?.revision ?? -1n;
      if (expected === 'no_stream' && current !== -1n) {
        throw new ConcurrencyRefusal({
          kind: 'ConcurrencyError',
          text: `Expected stream ${streamId} not to exist, but it is at revision ${current}`,
          streamId,
          expectedRevision: expected,
          actualRevision: current,
        });
      }
      if (expected === 'stream_exists' && current === -1n) {
        throw new ConcurrencyRefusal({
          kind: 'ConcurrencyError',
          text: `Expected stream ${streamId} to exist, but it has no messages`,
          streamId,
          expectedRevision: expected,
          actualRevision: -1n,
        });
      }
      if (typeof expected === 'string') {
        // A mode that passed: no revision check.
      } else if (stream === undefined && expected !== undefined && expected !== -1n) {
        throw new ConcurrencyRefusal({
          kind: 'StreamNotFoundError',
          text: `Stream ${streamId} does not exist, but expected revision ${String(expectedArg)} was provided`,
          streamId,
          expectedRevision: expected,
          actualRevision: -1n,
        });
      }
      const revision = stream?.revision ?? -1n;
      if (typeof expected === 'bigint' && expected !== revision) {
        throw new ConcurrencyRefusal({
          kind: 'WrongExpectedRevisionError',
          text: `Expected revision ${String(expectedArg)} but stream is at revision ${revision}`,
          streamId,
          expectedRevision: expected,
          actualRevision: revision,
        });
      }
      if (stream === undefined) {
        stream = { revision: -1n, createdAt: now, lastUpdated: now, messages: [] };
        this.streams.set(streamId, stream);
      }
      const sessionId = this.current ?? 'no-session';
      const session = this.current === null ? undefined : this.sessions.get(this.current);
      for (let i = 0; i < list.length; i++) {
        const given = list[i] as Record<string, unknown>;
        const requestId = given.requestId;
        const messageType: MessageType =
          kind ??
          (streamId.includes('command')
            ? 'command'
            : streamId.includes('event')
              ? 'event'
              : requestId !== undefined && requestId !== null && requestId !== ''
                ? 'command'
                : 'event');
        const parsed = JSON.parse(texts[i]);
        stream.revision += 1n;
        const stored: Stored = {
          streamId,
          json: texts[i],
          type: parsed.type,
          data: parsed.data,
          requestId: parsed.requestId,
          correlationId: parsed.correlationId,
          messageType,
          revision: stream.revision,
          position: BigInt(this.all.length + 1),
          time: now,
          sessionId,
        };
        stream.messages.push(stored);
        stream.lastUpdated = now;
        this.all.push(stored);
        if (session) {
          session.messageCount += 1;
          if (messageType === 'command') session.commandCount += 1;
          else session.eventCount += 1;
          session.lastActivity = now;
        }
      }
      return undefined;
    });
  }

  // -- reading ------------------------------------------------------------------

  private static positional(m: Stored): PositionalMessage {
    const message = JSON.parse(m.json);
    // message.timestamp: the caller's Date when given, else the save time (added last).
    message.timestamp = message.timestamp === undefined ? new Date(m.time) : new Date(message.timestamp);
    return {
      streamId: m.streamId,
      message,
      messageType: m.messageType,
      revision: m.revision,
      position: m.position,
      timestamp: new Date(m.time),
      sessionId: m.sessionId,
    };
  }

  getMessages(streamIdArg: unknown, fromRevisionArg?: unknown, countArg?: unknown): Outcome<PositionalMessage[]> {
    return outcome(() => {
      const streamId = checkName('streamId', streamIdArg);
      const from = checkInteger('fromRevision', fromRevisionArg);
      const count = checkCount(countArg);
      const stream = this.streams.get(streamId);
      if (!stream) return [];
      const list = stream.messages.filter((m) => from === undefined || m.revision >= from);
      return lastCount(list, count).map(Model.positional);
    });
  }

  private query(filter: Filter, count: number | undefined, only?: (m: Stored) => boolean): PositionalMessage[] {
    const list = this.all.filter((m) => (only === undefined || only(m)) && matches(m, filter));
    return lastCount(list, count).map(Model.positional);
  }

  getAllMessages(filterArg?: unknown, countArg?: unknown): Outcome<PositionalMessage[]> {
    return outcome(() => {
      const filter = checkFilter(filterArg);
      return this.query(filter, checkCount(countArg));
    });
  }

  getAllCommands(filterArg?: unknown, countArg?: unknown): Outcome<PositionalMessage[]> {
    return outcome(() => {
      const filter = checkFilter(filterArg, { messageType: 'command' });
      return this.query(filter, checkCount(countArg));
    });
  }

  getAllEvents(filterArg?: unknown, countArg?: unknown): Outcome<PositionalMessage[]> {
    return outcome(() => {
      const filter = checkFilter(filterArg, { messageType: 'event' });
      return this.query(filter, checkCount(countArg));
    });
  }

  /** (improved) The messages stamped with that session id; the filter's sessionId is replaced by it. */
  getSessionMessages(sessionIdArg: unknown, filterArg?: unknown, countArg?: unknown): Outcome<PositionalMessage[]> {
    return outcome(() => {
      const sessionId = checkName('sessionId', sessionIdArg);
      const filter = checkFilter(filterArg, { sessionId });
      const count = checkCount(countArg);
      return this.query(filter, count, (m) => m.sessionId === sessionId);
    });
  }

  /** JSON.stringify of the object read, with revision and position as decimal strings. */
  static asJson(list: PositionalMessage[]): string {
    return JSON.stringify(list.map((m) => ({ ...m, revision: String(m.revision), position: String(m.position) })));
  }

  getMessagesJson(streamId: unknown, fromRevision?: unknown, count?: unknown): Outcome<string> {
    const r = this.getMessages(streamId, fromRevision, count);
    return r.error ? r : { ok: Model.asJson(r.ok) };
  }

  getAllMessagesJson(filter?: unknown, count?: unknown): Outcome<string> {
    const r = this.getAllMessages(filter, count);
    return r.error ? r : { ok: Model.asJson(r.ok) };
  }

  getStreamInfo(streamIdArg: unknown) {
    return outcome(() => {
      const streamId = checkName('streamId', streamIdArg);
      const s = this.streams.get(streamId);
      if (!s) return null;
      const n = s.messages.length;
      return {
        streamId,
        revision: s.revision,
        messageCount: n,
        firstPosition: n ? s.messages[0].position : 0n,
        lastPosition: n ? s.messages[n - 1].position : 0n,
        createdAt: new Date(s.createdAt),
        lastUpdated: new Date(s.lastUpdated),
      };
    });
  }

  getStreams(): Outcome<string[]> {
    return { ok: [...this.streams.keys()] };
  }

  // -- sessions -----------------------------------------------------------------

  /** Records the session the store created at `now` under the id it returned. */
  createSession(sessionId: string, now: number): Outcome<string> {
    this.sessions.set(sessionId, {
      sessionId,
      startedAt: now,
      messageCount: 0,
      commandCount: 0,
      eventCount: 0,
      lastActivity: now,
    });
    this.current = sessionId;
    const streamId = `session-${sessionId}`;
    if (!this.streams.has(streamId)) this.streams.set(streamId, { revision: -1n, createdAt: now, lastUpdated: now, messages: [] });
    return { ok: sessionId };
  }

  endSession(sessionIdArg: unknown, now: number): Outcome<undefined> {
    return outcome(() => {
      const sessionId = checkName('sessionId', sessionIdArg);
      const s = this.sessions.get(sessionId);
      if (s) s.lastActivity = now;
      if (this.current === sessionId) this.current = null;
      return undefined;
    });
  }

  private static sessionInfo(s: Session) {
    return {
      sessionId: s.sessionId,
      startedAt: new Date(s.startedAt),
      messageCount: s.messageCount,
      commandCount: s.commandCount,
      eventCount: s.eventCount,
      lastActivity: new Date(s.lastActivity),
    };
  }

  getSessions() {
    return { ok: [...this.sessions.values()].map(Model.sessionInfo) };
  }

  getSessionInfo(sessionIdArg: unknown) {
    return outcome(() => {
      const s = this.sessions.get(checkName('sessionId', sessionIdArg));
      return s ? Model.sessionInfo(s) : null;
    });
  }

  // -- whole store ----------------------------------------------------------------

  /** getStats less memoryUsage; the dates are the oldest and newest save times. */
  getStats() {
    let oldest: number | undefined;
    let newest: number | undefined;
    let commands = 0;
    for (const m of this.all) {
      if (m.messageType === 'command') commands += 1;
      if (oldest === undefined || m.time < oldest) oldest = m.time;
      if (newest === undefined || m.time > newest) newest = m.time;
    }
    return {
      ok: {
        totalMessages: this.all.length,
        totalCommands: commands,
        totalEvents: this.all.length - commands,
        totalStreams: this.streams.size,
        totalSessions: this.sessions.size,
        oldestMessage: oldest === undefined ? undefined : new Date(oldest),
        newestMessage: newest === undefined ? undefined : new Date(newest),
      },
    };
  }

  /** True when the store holds nothing at all (memoryUsage must then be 0). */
  isEmpty(): boolean {
    return this.all.length === 0 && this.streams.size === 0 && this.sessions.size === 0;
  }

  reset(): Outcome<undefined> {
    this.streams.clear();
    this.sessions.clear();
    this.all = [];
    this.current = null;
    return { ok: undefined };
  }

  dispose(): Outcome<undefined> {
    return this.reset();
  }
}
