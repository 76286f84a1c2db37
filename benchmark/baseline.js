'use strict';

// The by-reference baseline of the client benchmark (client.js): a plain-JavaScript
// store that works the way the original TypeScript package does. It keeps every
// positional message as an object in a per-stream array and hands those same objects
// (in fresh arrays) to the caller, so a read costs a copy of references, never a
// conversion, while the whole history lives on the JavaScript heap and every
// cross-stream query walks, concatenates and sorts it again. Our store is measured
// against this reference point; only the calls the benchmark's client makes are
// here, with the original's observable behaviour (types, errors, ordering).

/** The message type the original infers when the caller gives none. */
function inferType(streamId, message) {
  if (streamId.includes('command')) return 'command';
  if (streamId.includes('event')) return 'event';
  const { requestId } = message;
  return requestId !== undefined && requestId !== null && requestId !== '' ? 'command' : 'event';
}

// getStats's memory estimate stringifies positional messages, whose bigints
// JSON.stringify refuses.
const bigintSafe = (_key, value) => (typeof value === 'bigint' ? value.toString() : value);

class BaselineMessageStore {
  constructor() {
    this.streams = new Map(); // streamId -> positional messages, in revision order
    this.nextPosition = 1n;
  }

  async saveMessage(streamId, message, expectedRevision, messageType) {
    return this.saveMessages(streamId, [message], expectedRevision, messageType);
  }

  async saveMessages(streamId, messages, expectedRevision, messageType) {
    let stream = this.streams.get(streamId);
    if (stream) {
      const current = BigInt(stream.length - 1);
      if (expectedRevision !== undefined && expectedRevision !== current) {
        throw new Error(`Expected revision ${expectedRevision} but stream is at revision ${current}`);
      }
    } else {
      if (expectedRevision !== undefined && expectedRevision !== -1n) {
        throw new Error(`Stream ${streamId} does not exist, but expected revision ${expectedRevision} was provided`);
      }
      stream = [];
      this.streams.set(streamId, stream);
    }
    // One clock reading per call: every message of a batch shares its save time.
    const now = new Date();
    for (const message of messages) {
      stream.push({
        streamId,
        message: { ...message, timestamp: message.timestamp || now },
        messageType: messageType ?? inferType(streamId, message),
        revision: BigInt(stream.length),
        position: this.nextPosition++,
        timestamp: now,
        sessionId: 'no-session',
      });
    }
  }

  async getMessages(streamId, fromRevision, count) {
    let out = [...(this.streams.get(streamId) ?? [])];
    if (fromRevision !== undefined) out = out.filter((m) => m.revision >= fromRevision);
    if (count !== undefined && count > 0) out = out.slice(-count);
    return out;
  }

  async getAllMessages(filter = {}, count) {
    // As the original: every stream's array joined and sorted again on each call.
    let out = [];
    for (const stream of this.streams.values()) out = out.concat(stream);
    out.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
    const f = filter;
    if (f.messageType) out = out.filter((m) => m.messageType === f.messageType);
    if (f.messageNames && f.messageNames.length > 0) out = out.filter((m) => f.messageNames.includes(m.message.type));
    if (f.streamId) out = out.filter((m) => m.streamId === f.streamId);
    if (f.sessionId) out = out.filter((m) => m.sessionId === f.sessionId);
    if (f.correlationId) out = out.filter((m) => m.message.correlationId === f.correlationId);
    if (f.requestId) out = out.filter((m) => m.message.requestId === f.requestId);
    if (f.fromPosition !== undefined) out = out.filter((m) => m.position >= f.fromPosition);
    if (f.toPosition !== undefined) out = out.filter((m) => m.position <= f.toPosition);
    if (count !== undefined && count > 0) out = out.slice(-count);
    return out;
  }

  async getAllCommands(filter, count) {
    return this.getAllMessages({ ...filter, messageType: 'command' }, count);
  }

  async getAllEvents(filter, count) {
    return this.getAllMessages({ ...filter, messageType: 'event' }, count);
  }

  async getStreams() {
    return Array.from(this.streams.keys());
  }

  async getSessions() {
    return [];
  }

  async getStats() {
    // Walks every message on each call, as the original does: nothing is kept up to date.
    let totalMessages = 0;
    let totalCommands = 0;
    let totalEvents = 0;
    let memoryUsage = 0;
    let oldestMessage;
    let newestMessage;
    for (const stream of this.streams.values()) {
      for (const m of stream) {
        totalMessages++;
        if (m.messageType === 'command') totalCommands++;
        else totalEvents++;
        if (!oldestMessage || m.timestamp < oldestMessage) oldestMessage = m.timestamp;
        if (!newestMessage || m.timestamp > newestMessage) newestMessage = m.timestamp;
        // The original's estimate: the JSON text's length, two bytes per UTF-16 unit.
        // One message at a time, so a large store never nears V8's longest string.
        memoryUsage += JSON.stringify(m, bigintSafe).length * 2;
      }
    }
    return {
      totalMessages,
      totalCommands,
      totalEvents,
      totalStreams: this.streams.size,
      totalSessions: 0,
      memoryUsage,
      oldestMessage,
      newestMessage,
    };
  }

  async dispose() {
    this.streams.clear();
  }
}

module.exports = { BaselineMessageStore };
