'use strict';

// Results from the native side arrive as one JSON string; this builds the objects
// users get. Everything is made here, in JavaScript, so arrays, objects, `Date`s
// and `bigint`s belong to the caller's realm and are fresh copies the store never
// sees again.

/** Positional messages, from the text `Engine::write_messages` writes. */
function messages(text) {
  const raw = JSON.parse(text);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i];
    const message = r.message;
    message.timestamp = new Date(message.timestamp);
    raw[i] = {
      streamId: r.streamId,
      message,
      messageType: r.messageType,
      revision: BigInt(r.revision),
      position: BigInt(r.position),
      timestamp: new Date(r.timestamp),
      sessionId: r.sessionId,
    };
  }
  return raw;
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
