'use strict';

const { EXPECTED_MODES, MESSAGE_TYPES, NEVER, filter: encode } = require('./wire');

// Argument checks. Every public method checks its arguments here before anything
// reaches the native store, so bad input gets a TypeError naming the argument and
// changes nothing. Each check returns the form the native side takes: names as their
// JSON literals, integers clamped to the safe range, times as epoch milliseconds.

/** Deepest nesting a stored value (or a jsonFilter value) may have. */
const MAX_DEPTH = 1000;
const MAX_COUNT = 0xffffffff;

const toStringTag = Object.prototype.toString;
const hasOwn = Object.prototype.hasOwnProperty;
const isEnumerable = Object.prototype.propertyIsEnumerable;
const dateToJSON = Date.prototype.toJSON;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const { isProxy } = require('node:util').types;

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'number':
      return `the number ${value}`;
    case 'bigint':
      return `the bigint ${value}n`;
    case 'undefined':
      return 'undefined';
    case 'object':
      return isDate(value) ? 'a Date' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

function fail(argument, expected, value) {
  return new TypeError(`${argument} must be ${expected}, got ${describe(value)}`);
}

// Realm-independent: a Date from another vm context is still a Date.
function isDate(value) {
  return value instanceof Date || toStringTag.call(value) === '[object Date]';
}

function isValidDate(value) {
  return isDate(value) && !Number.isNaN(value.getTime());
}

function isPlainObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string argument, as the JSON literal the native side takes. */
function name(argument, value) {
  if (typeof value !== 'string') throw fail(argument, 'a string', value);
  return JSON.stringify(value);
}

function clampSafe(value) {
  if (typeof value === 'bigint') {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
    if (value < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
    return Number(value);
  }
  return Math.min(Math.max(value, Number.MIN_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
}

/** An optional integer (bigint or integer number); `undefined` and `null` mean absent. */
function optionalInteger(argument, value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'bigint' || Number.isInteger(value)) return clampSafe(value);
  throw fail(argument, 'a bigint or an integer number', value);
}

/**
 * `expectedRevision`: a bigint or a safe integer number, at least -1, or one of
 * `'any'`, `'no_stream'`, `'stream_exists'`. Returns the revision as a number, a mode's
 * number (`EXPECTED_MODES`), or undefined for none (and `'any'`).
 */
function expectedRevision(value) {
  if (value === undefined || value === 'any') return undefined;
  if (typeof value === 'string' && Object.hasOwn(EXPECTED_MODES, value)) return EXPECTED_MODES[value];
  const ok = typeof value === 'bigint' || Number.isSafeInteger(value);
  if (!ok || value < -1) {
    throw fail('expectedRevision', "a bigint or a safe integer number, at least -1, or 'any', 'no_stream' or 'stream_exists'", value);
  }
  return clampSafe(value);
}

/** The one parse of a message type, for the argument and the filter field alike:
 * its code, or `undefined` when none is given. */
function messageType(value, path = 'messageType') {
  if (value === undefined || value === null) return undefined;
  const code = MESSAGE_TYPES.indexOf(value);
  if (code < 0) throw fail(path, "'command' or 'event'", value);
  return code;
}

/**
 * `count`: upstream keeps the last `count` messages when `count > 0` (as
 * `slice(-count)` does, so 2.5 keeps 2, and 0.5 or Infinity keep all) and ignores
 * NaN, zero and negative numbers. Returns the limit, or `undefined` for none.
 */
function count(value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number') throw fail('count', 'a number', value);
  if (!(value > 0) || value === Infinity) return undefined;
  const n = Math.trunc(value);
  return n === 0 ? undefined : Math.min(n, MAX_COUNT);
}

/**
 * Checks that `value` can be stored as JSON without loss of meaning: no bigint,
 * function or symbol anywhere, no cycle, at most MAX_DEPTH levels. `JSON.stringify`
 * would throw on some of these and silently drop the others. The first pass builds
 * no paths (this runs on every save); only a failing value is walked again to name
 * the place.
 */
function checkJson(value, path) {
  if (!jsonSafe(value, 0)) problemAt(value, where(path), []);
}

/** A message's place: `path` itself, or for a number the index in `messages`, built only when an error needs it. */
function where(path) {
  return typeof path === 'number' ? `messages[${path}]` : path;
}

// The fast pass: true when `value` (an object at `depth`) holds nothing JSON cannot.
// Primitive values are checked in the loop, without a call, since they are most of a
// message; `for…in` walks keys without allocating, and the own-property check
// (JSON.stringify writes only own keys) is paid only where a value needs a closer
// look. It keeps no list of ancestors: a cycle only ever nests deeper, so it fails at
// MAX_DEPTH, and the slow pass then names it.
function jsonSafe(value, depth) {
  if (typeof value.toJSON === 'function') return true;
  if (depth >= MAX_DEPTH) return false;
  depth++;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const t = typeof v;
      if (t === 'object') {
        if (v !== null && !jsonSafe(v, depth)) return false;
      } else if (t === 'function' || t === 'symbol' || t === 'bigint') {
        return false;
      }
    }
  } else {
    for (const k in value) {
      const v = value[k];
      const t = typeof v;
      if (t === 'object') {
        if (v !== null && hasOwn.call(value, k) && !jsonSafe(v, depth)) return false;
      } else if ((t === 'function' || t === 'symbol' || t === 'bigint') && hasOwn.call(value, k)) {
        return false;
      }
    }
  }
  return true;
}

// The slow pass, for a value the fast one refused: throws a TypeError naming the
// first problem's place. (With `path` null it only returns true at the first problem.)
function problemAt(value, path, ancestors) {
  let problem;
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return false;
    case 'bigint':
    case 'function':
    case 'symbol':
      problem = `is a ${typeof value}, which JSON cannot hold`;
      break;
    default:
      if (value === null || typeof value.toJSON === 'function') return false;
      if (ancestors.includes(value)) problem = 'is a circular reference, which JSON cannot hold';
      else if (ancestors.length >= MAX_DEPTH) problem = `is nested more than ${MAX_DEPTH} levels deep`;
  }
  if (problem !== undefined) {
    if (path === null) return true;
    throw new TypeError(`${path} ${problem}`);
  }
  ancestors.push(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (problemAt(value[i], path === null ? null : `${path}[${i}]`, ancestors)) return true;
    }
  } else {
    const keys = Object.keys(value);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (problemAt(value[k], path === null ? null : `${path}.${k}`, ancestors)) return true;
    }
  }
  ancestors.pop();
  return false;
}

/**
 * Checks one message (at `path`, or `messages[path]` for a number) and returns what to stringify: the message itself, or, when it
 * has a `timestamp` key holding `undefined` or `null`, a copy with the save time in
 * that key's place (upstream writes `{ ...message, timestamp: message.timestamp || now }`).
 * A message with no `timestamp` key gets the save time from the native side.
 */
function message(value, path, now) {
  // JSON.stringify writes own enumerable keys, or whatever a toJSON method returns:
  // a message whose stored text would lack its `type` is not a message.
  if (!isPlainObject(value) || typeof value.toJSON === 'function') throw fail(where(path), 'an object with a string "type"', value);
  if (typeof value.type !== 'string') throw fail(`${where(path)}.type`, 'a string', value.type);
  if (!isEnumerable.call(value, 'type')) throw fail(where(path), 'an object with a string "type"', value);
  const ts = value.timestamp;
  let stored = value;
  if (ts === undefined || ts === null) {
    if (hasOwn.call(value, 'timestamp')) stored = { ...value, timestamp: new Date(now) };
  } else if (!isValidDate(ts)) {
    throw fail(`${where(path)}.timestamp`, 'a valid Date', ts);
  } else if (ts.toJSON !== dateToJSON) {
    // A Date from another realm, or one with its own toJSON: store the instant itself.
    stored = { ...value, timestamp: new Date(ts.getTime()) };
  }
  checkJson(value, path);
  // Upstream calls a message a command when its requestId is present and not '' (docs/behaviour.md#writing-message-type). The store decides from the stored JSON, so a requestId that JSON would
  // write as null, '' or not at all (NaN, Infinity, a toJSON giving those) is refused
  // rather than silently turning the command into an event.
  const rid = value.requestId;
  if (rid !== undefined && rid !== null && typeof rid !== 'string') {
    let written;
    try {
      written = JSON.stringify(rid);
    } catch {
      written = 'x'; // stringify of the whole message reports this below
    }
    if (written === undefined || written === 'null' || written === '""') {
      throw fail(`${where(path)}.requestId`, 'a string or another value JSON writes as itself', rid);
    }
  }
  return stored;
}

/**
 * Whether `message` (already checked) is certain to serialise as it was checked: an
 * object of plain prototype, not a Proxy, whose `type` and `timestamp` are data
 * properties, so `JSON.stringify` reads the very values the checks saw. Such a save
 * can be acknowledged before the engine reads its text; any other is handed to the
 * engine in its call, which refuses it there if its text is not a message.
 */
function stable(message) {
  if (isProxy(message)) return false;
  const proto = Object.getPrototypeOf(message);
  if (proto !== null && Object.getPrototypeOf(proto) !== null) return false;
  const type = getOwnPropertyDescriptor(message, 'type');
  if (type === undefined || type.get !== undefined) return false;
  if (!hasOwn.call(message, 'timestamp')) return true;
  const ts = getOwnPropertyDescriptor(message, 'timestamp');
  return ts.get === undefined && !isProxy(ts.value);
}

function messages(value, now) {
  if (!Array.isArray(value)) throw fail('messages', 'an array of messages', value);
  let out = value;
  for (let i = 0; i < value.length; i++) {
    const m = message(value[i], i, now);
    if (m !== value[i]) {
      if (out === value) out = value.slice();
      out[i] = m;
    }
  }
  return out;
}

/** JSON text of a value after `checkJson`; turns anything `JSON.stringify` throws into a TypeError. */
function stringify(value, path) {
  try {
    return JSON.stringify(value);
  } catch (e) {
    throw new TypeError(`${path} cannot be stored as JSON: ${e?.message}`);
  }
}

function optionalId(wire, filter, key) {
  const v = filter[key];
  if (v === undefined || v === null || v === '') return;
  if (typeof v !== 'string') throw fail(`filter.${key}`, 'a string', v);
  wire[key] = v;
}

function optionalTime(wire, filter, key) {
  const v = filter[key];
  if (v === undefined || v === null) return;
  if (!isValidDate(v)) throw fail(`filter.${key}`, 'a valid Date', v);
  wire[key] = v.getTime();
}

/**
 * A `MessageFilter`, checked, as it crosses to the native side (`wire.filter`), with
 * `overrides` applied as upstream's `{ ...filter, ...overrides }`; `undefined` when
 * nothing filters, `NEVER` when nothing can match.
 */
function filter(value, overrides) {
  if (value !== undefined && value !== null && !isPlainObject(value)) throw fail('filter', 'an object', value);
  const f = overrides ? { ...value, ...overrides } : value;
  if (f === undefined || f === null) return undefined;
  const wire = {};
  const kind = messageType(f.messageType, 'filter.messageType');
  if (kind !== undefined) wire.messageType = kind;
  const names = f.messageNames;
  if (names !== undefined && names !== null) {
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
      throw fail('filter.messageNames', 'an array of strings', names);
    }
    if (names.length > 0) wire.messageNames = names;
  }
  optionalId(wire, f, 'streamId');
  optionalId(wire, f, 'sessionId');
  optionalId(wire, f, 'correlationId');
  optionalId(wire, f, 'requestId');
  const from = optionalInteger('filter.fromPosition', f.fromPosition);
  if (from !== undefined) wire.fromPosition = from;
  const to = optionalInteger('filter.toPosition', f.toPosition);
  if (to !== undefined) wire.toPosition = to;
  optionalTime(wire, f, 'fromTimestamp');
  optionalTime(wire, f, 'toTimestamp');
  const json = f.jsonFilter;
  if (json !== undefined && json !== null) {
    if (!isPlainObject(json)) throw fail('filter.jsonFilter', 'an object', json);
    checkJson(json, 'filter.jsonFilter');
    // A key whose value is `undefined` matches data that lacks it, as upstream's `===` does.
    const keys = Object.keys(json);
    // NaN and ±Infinity never equal stored JSON (which cannot hold them), as `===` would say.
    if (keys.some((k) => typeof json[k] === 'number' && !Number.isFinite(json[k]))) return NEVER;
    wire.jsonFilter = keys.map((k) => (json[k] === undefined ? [k] : [k, json[k]]));
  }
  try {
    return encode(wire);
  } catch (e) {
    throw new TypeError(`filter cannot be stored as JSON: ${e?.message}`);
  }
}

/** An optional position or revision to start after: a bigint or a safe integer number, at least `min`; a number. */
function startAfter(argument, value, min) {
  if (value === undefined || value === null) return undefined;
  const ok = typeof value === 'bigint' || Number.isSafeInteger(value);
  if (!ok || value < min) throw fail(argument, `a bigint or a safe integer number, at least ${min}`, value);
  return clampSafe(value);
}

/** An optional `AbortSignal` (anything with its `aborted` and `addEventListener`). */
function optionalSignal(argument, value) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || typeof value.aborted !== 'boolean' || typeof value.addEventListener !== 'function') {
    throw fail(argument, 'an AbortSignal', value);
  }
  return value;
}

/** `subscribe(options)`: `{ afterPosition?, filter?, signal? }`; the filter is checked by `filter`. */
function subscribeOptions(options) {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) throw fail('options', 'an object', options);
  return {
    afterPosition: startAfter('options.afterPosition', options.afterPosition, 0),
    filter: options.filter ?? undefined,
    signal: optionalSignal('options.signal', options.signal),
  };
}

/** `subscribeToStream(streamId, options)`: `{ afterRevision?, signal? }`. */
function streamSubscribeOptions(options) {
  if (options === undefined || options === null) return {};
  if (!isPlainObject(options)) throw fail('options', 'an object', options);
  return {
    afterRevision: startAfter('options.afterRevision', options.afterRevision, -1),
    signal: optionalSignal('options.signal', options.signal),
  };
}

/** `exportHistory(options)`: `{ after? }`, the position the history starts after (0: all). */
function exportOptions(options) {
  if (options === undefined || options === null) return { after: 0 };
  if (!isPlainObject(options)) throw fail('options', 'an object', options);
  return { after: startAfter('options.after', options.after, 0) ?? 0 };
}

/** `importHistory(source, options)`: `{ resume?, signal? }`. */
function importOptions(options) {
  if (options === undefined || options === null) return { resume: false, signal: undefined };
  if (!isPlainObject(options)) throw fail('options', 'an object', options);
  const resume = options.resume ?? false;
  if (typeof resume !== 'boolean') throw fail('options.resume', 'a boolean', resume);
  return { resume, signal: optionalSignal('options.signal', options.signal) };
}

/**
 * A store's options: `{ cacheBytes?: number }`, and for `SqliteMessageStore` also
 * `{ durability?: 'process' | 'power', readOnly?: boolean }` (not both: a read-only
 * store writes nothing). Returns `{ durability, cacheBytes, readOnly }`, the first two
 * `undefined` when not given, `readOnly` false.
 */
function storeOptions(options, durable) {
  if (options === undefined || options === null) return { durability: undefined, cacheBytes: undefined, readOnly: false };
  if (!isPlainObject(options)) throw fail('options', 'an object', options);
  let durability;
  let readOnly = false;
  if (durable) {
    const d = options.durability;
    if (d !== undefined && d !== null) {
      if (d !== 'process' && d !== 'power') throw fail('options.durability', "'process' or 'power'", d);
      durability = d;
    }
    const r = options.readOnly;
    if (r !== undefined && r !== null) {
      if (typeof r !== 'boolean') throw fail('options.readOnly', 'a boolean', r);
      readOnly = r;
    }
    if (readOnly && durability !== undefined) {
      throw new TypeError('options.durability cannot be given with options.readOnly: a read-only store writes nothing');
    }
  }
  let cacheBytes;
  const c = options.cacheBytes;
  if (c !== undefined && c !== null) {
    if (!Number.isSafeInteger(c) || c < 0) throw fail('options.cacheBytes', 'a whole number of bytes, at least 0', c);
    cacheBytes = c;
  }
  return { durability, cacheBytes, readOnly };
}

/** A schema name: what PostgreSQL takes unquoted, lower case (src/postgres/schema.rs checks it again). */
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

/** libpq's `sslmode` names (src/postgres/tls.rs holds the same list and checks it again). */
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'];

/**
 * `options.ssl`: `{ mode?, rootCert?, cert?, key? }`, each certificate or key PEM text,
 * a Buffer of it, or a file's path. A value is never quoted back: it may be a key.
 */
function sslOptions(ssl) {
  if (ssl === undefined || ssl === null) return {};
  if (!isPlainObject(ssl)) throw fail('options.ssl', 'an object ({ mode, rootCert, cert, key })', ssl);
  const out = {};
  if (ssl.mode !== undefined && ssl.mode !== null) {
    if (!SSL_MODES.includes(ssl.mode)) throw fail('options.ssl.mode', `one of ${SSL_MODES.map((m) => `'${m}'`).join(', ')}`, ssl.mode);
    out.sslMode = ssl.mode;
  }
  for (const [field, native] of [
    ['rootCert', 'sslRootCert'],
    ['cert', 'sslCert'],
    ['key', 'sslKey'],
  ]) {
    const v = ssl[field];
    if (v === undefined || v === null) continue;
    if (typeof v === 'string' && v !== '') out[native] = v;
    else if (v instanceof Uint8Array && v.length > 0) out[native] = Buffer.from(v.buffer, v.byteOffset, v.length).toString('utf8');
    else throw new TypeError(`options.ssl.${field} must be PEM text (a string or a Buffer) or a file's path, got ${typeof v}`);
  }
  return out;
}

/** The connections a `PostgresMessageStore` opens for its calls unless told otherwise: one for appends, three for reads and sessions. */
const POOL_SIZE = 4;

/** `new PostgresMessageStore(connectionString)` or `({ connectionString, schema?, poolSize?, ssl?, failoverTimeout?, listenConnectionString? })`. */
function postgresOptions(options) {
  const o = typeof options === 'string' ? { connectionString: options } : options;
  if (!isPlainObject(o)) throw fail('options', 'a connection string or an object with a connectionString', options);
  if (typeof o.connectionString !== 'string' || o.connectionString === '') {
    throw fail('options.connectionString', 'a non-empty string', o.connectionString);
  }
  const schema = o.schema ?? 'message_store';
  if (typeof schema !== 'string' || !SCHEMA.test(schema)) {
    throw fail('options.schema', 'a lower-case SQL name (a-z, 0-9 and _, not starting with a digit, at most 63)', schema);
  }
  const poolSize = o.poolSize ?? POOL_SIZE;
  if (!Number.isSafeInteger(poolSize) || poolSize < 1 || poolSize > 64)
    throw fail('options.poolSize', 'a whole number from 1 to 64', poolSize);
  const failoverTimeout = o.failoverTimeout ?? 30_000;
  if (!Number.isSafeInteger(failoverTimeout) || failoverTimeout < 0 || failoverTimeout > 3_600_000)
    throw fail('options.failoverTimeout', 'a whole number of milliseconds from 0 to 3600000', failoverTimeout);
  const listen = o.listenConnectionString;
  if (listen !== undefined && listen !== null && (typeof listen !== 'string' || listen === ''))
    throw fail('options.listenConnectionString', 'a non-empty string', listen);
  const connect = {
    ...sslOptions(o.ssl),
    failoverTimeoutMs: failoverTimeout,
    poolSize,
    ...(typeof listen === 'string' ? { listenUrl: listen } : {}),
  };
  return { connectionString: o.connectionString, schema, poolSize, connect };
}

module.exports = {
  describe,
  storeOptions,
  postgresOptions,
  name,
  optionalInteger,
  expectedRevision,
  subscribeOptions,
  streamSubscribeOptions,
  exportOptions,
  importOptions,
  messageType,
  count,
  message,
  messages,
  stable,
  stringify,
  filter,
  MAX_DEPTH,
};
