'use strict';

// Results from the native side arrive as one JSON string; this builds the objects
// users get. Everything is made here, in JavaScript, so arrays, objects, `Date`s
// and `bigint`s belong to the caller's realm and are fresh copies the store never
// sees again.

/**
 * Positional messages from a read's compact pages (`Engine::write_page` in
 * src/engine/output.rs): `first` is the first page's JSON text, `next()` gives the
 * following ones or `null`. One `JSON.parse` per page, then one pass that builds each
 * object with upstream's key order and adds the bigints and Dates.
 */
function messages(first, next) {
  const out = [];
  for (let text = first; text !== null && text !== undefined; text = next()) {
    const page = JSON.parse(text);
    const rows = page.m;
    const streams = page.s;
    const sessions = page.x;
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const message = r[1];
      const time = r[5];
      // A message saved without `timestamp` gets the save time as its last key.
      message.timestamp = message.timestamp === undefined ? new Date(time) : new Date(message.timestamp);
      out.push({
        streamId: streams[r[0]],
        message,
        messageType: r[2] === 0 ? 'command' : 'event',
        revision: BigInt(r[3]),
        position: BigInt(r[4]),
        timestamp: new Date(time),
        sessionId: sessions[r[6]],
      });
    }
  }
  return out;
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

module.exports = { messages, streamInfo, sessions, sessionInfo, stats };
