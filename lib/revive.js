'use strict';

// Results from the native side arrive as JSON strings; this builds the objects users
// get. Everything is made here, in JavaScript, so arrays, objects, `Date`s and
// `bigint`s belong to the caller's realm.
//
// Messages are built once and shared by every read that returns them (cache.js), so
// each is immutable: the envelope, the message, its data and everything in it are
// frozen, and its two Dates are `ReadOnlyDate`s, whose setters throw.

const { estimate } = require('./cache');
const { MESSAGE_TYPES } = require('./wire');

const SHARED =
  'a message read from the store is shared by every read and cannot be changed; copy it first (new Date(date), structuredClone(message))';

/**
 * A Date whose setters throw. It is a `Date` to every test users write
 * (`instanceof Date`, `util.types.isDate`, `toEqual`, and `toStrictEqual`, since its
 * prototype's `constructor` is `Date`); only `Date.prototype.setTime.call(d, …)`
 * gets past it, which JavaScript cannot prevent on a real Date.
 */
class ReadOnlyDate extends Date {}
for (const key of Object.getOwnPropertyNames(Date.prototype)) {
  if (!key.startsWith('set')) continue;
  Object.defineProperty(ReadOnlyDate.prototype, key, {
    value: {
      [key]() {
        throw new TypeError(`Date.prototype.${key}: ${SHARED}`);
      },
    }[key],
    writable: false,
    enumerable: false,
    configurable: false,
  });
}
Object.defineProperty(ReadOnlyDate.prototype, 'constructor', { value: Date, writable: false, enumerable: false, configurable: false });
Object.freeze(ReadOnlyDate.prototype);

function readOnlyDate(value) {
  return Object.freeze(new ReadOnlyDate(value));
}

/** Strings this long or shorter are shared (JSON.parse already shares those of 10 or fewer). */
const SHARED_STRING = 200;
/** Distinct strings one store's reads share; past this the table starts again. */
const MAX_SHARED = 4096;

/**
 * Freezes a value `JSON.parse` made, and everything in it; returns how many objects
 * and arrays it holds, itself included (what the cache's estimate counts). A string
 * equal to one seen before (`strings`) is replaced by that one: messages repeat their
 * names and texts, and each copy would otherwise cost its bytes again in every kept
 * message.
 */
function freezeDeep(value, strings) {
  let objects = 1;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === 'object') {
        if (v !== null) objects += freezeDeep(v, strings);
      } else if (typeof v === 'string' && v.length > 10 && v.length <= SHARED_STRING) {
        value[i] = share(v, strings);
      }
    }
  } else {
    for (const k in value) {
      const v = value[k];
      if (typeof v === 'object') {
        if (v !== null) objects += freezeDeep(v, strings);
      } else if (typeof v === 'string' && v.length > 10 && v.length <= SHARED_STRING) {
        // Always stored: equal strings compare equal, whichever copy this is.
        value[k] = share(v, strings);
      }
    }
  }
  Object.freeze(value);
  return objects;
}

function share(s, strings) {
  const seen = strings.get(s);
  if (seen !== undefined) return seen;
  if (strings.size >= MAX_SHARED) strings.clear();
  strings.set(s, s);
  return s;
}

/**
 * Builds the messages of a read's compact pages (`page::write` in src/binding/page.rs,
 * or `page::write_rows` there for PostgreSQL's rows) into `cache`: `first` is the first
 * page's JSON text, `next()` gives the following ones or `null`. One `JSON.parse` per
 * page, then one pass that builds each object with upstream's key order, adds the
 * bigints and Dates, freezes it and keeps it under its record. `strings`: the store's
 * shared strings (a Map).
 */
function messagesInto(cache, strings, first, next) {
  for (let text = first; text !== null && text !== undefined; text = next()) {
    const page = JSON.parse(text);
    const messages = page.m;
    const d = page.d;
    const streams = page.s;
    const sessions = page.x;
    for (let i = 0, j = 0; i < messages.length; i++, j += 7) {
      const message = messages[i];
      const saved = readOnlyDate(d[j + 4]);
      // A message saved without `timestamp` has 0 as its last key: the save time's place.
      // A stamped time that comes back as text (a server's page) is the save time too:
      // one Date for both, as upstream's `timestamp: message.timestamp || now`.
      if (typeof message.timestamp === 'number') message.timestamp = saved;
      else {
        const own = readOnlyDate(message.timestamp);
        message.timestamp = own.getTime() === d[j + 4] ? saved : own;
      }
      const objects = freezeDeep(message, strings);
      const position = d[j + 3];
      cache.put(
        position - 1,
        Object.freeze({
          streamId: streams[d[j]],
          message,
          messageType: MESSAGE_TYPES[d[j + 1]],
          revision: BigInt(d[j + 2]),
          position: BigInt(position),
          timestamp: saved,
          sessionId: sessions[d[j + 5]],
        }),
        estimate(objects, d[j + 6]),
      );
    }
  }
}

/**
 * The messages of a read's `rows`: a page of messages (text, a server's), built afresh;
 * or records (runs of record numbers, the engine's), which `cache` hands out where it
 * keeps them; the rest are built from the engine's pages (`pages.first(records)`, then
 * `pages.next()` until null) and kept, within the cache's bound.
 */
function messagesOf(rows, cache, strings, pages) {
  if (typeof rows === 'string') {
    const out = [];
    messagesInto({ put: (_i, m) => out.push(m) }, strings, rows, () => null);
    return out;
  }
  const missing = cache.missing(rows);
  if (missing.length > 0) messagesInto(cache, strings, pages.first(new Uint32Array(missing)), pages.next);
  const out = cache.collect(rows);
  cache.trim();
  return out;
}

/** `JSON.stringify` of positional messages with `revision` and `position` as decimal strings. */
function servingJson(messages) {
  return JSON.stringify(messages, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
}

function streamInfo(streamId, text) {
  if (text === null || text === undefined) return null;
  const s = JSON.parse(text);
  return {
    streamId,
    revision: BigInt(s.revision),
    messageCount: s.messageCount,
    firstPosition: BigInt(s.firstPosition),
    lastPosition: BigInt(s.lastPosition),
    createdAt: new Date(s.createdAt),
    lastUpdated: new Date(s.lastUpdated),
  };
}

function session(s) {
  return {
    sessionId: s.sessionId,
    startedAt: new Date(s.startedAt),
    messageCount: s.messageCount,
    commandCount: s.commandCount,
    eventCount: s.eventCount,
    lastActivity: new Date(s.lastActivity),
  };
}

function sessions(text) {
  return JSON.parse(text).map(session);
}

function sessionInfo(text) {
  return text === null || text === undefined ? null : session(JSON.parse(text));
}

function stats(text) {
  const s = JSON.parse(text);
  return {
    totalMessages: s.totalMessages,
    totalCommands: s.totalCommands,
    totalEvents: s.totalEvents,
    totalStreams: s.totalStreams,
    totalSessions: s.totalSessions,
    memoryUsage: s.memoryUsage,
    oldestMessage: s.oldestMessage === null ? undefined : new Date(s.oldestMessage),
    newestMessage: s.newestMessage === null ? undefined : new Date(s.newestMessage),
  };
}

module.exports = { messagesInto, messagesOf, servingJson, ReadOnlyDate, streamInfo, sessions, sessionInfo, stats };
