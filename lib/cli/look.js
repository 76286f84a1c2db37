'use strict';

// The commands that look into a store without changing it: tail, stats, streams and
// sessions. A SQLite file is opened read-only, so its application may run meanwhile.

const { openToRead } = require('./stores');
const { count, table, write } = require('./output');
const { UsageError } = require('./usage');

const iso = (d) => (d ? d.toISOString() : null);

/** Runs `work` on the store `locator` names, opened to read; disposes of it after. */
async function reading(locator, work) {
  const store = openToRead(locator);
  try {
    return await work(store);
  } finally {
    await store.dispose();
  }
}

/** `stats <store>`: the counts and the save times of the first and last message (no memory use: it is this process's). */
async function stats({ store: locator }, { json }, io) {
  const s = await reading(locator, (store) => store.getStats());
  const data = {
    totalMessages: s.totalMessages,
    totalCommands: s.totalCommands,
    totalEvents: s.totalEvents,
    totalStreams: s.totalStreams,
    totalSessions: s.totalSessions,
    oldestMessage: iso(s.oldestMessage),
    newestMessage: iso(s.newestMessage),
  };
  if (json) return io.out(`${JSON.stringify(data)}\n`);
  const rows = [
    ['messages', count(data.totalMessages)],
    ['commands', count(data.totalCommands)],
    ['events', count(data.totalEvents)],
    ['streams', count(data.totalStreams)],
    ['sessions', count(data.totalSessions)],
    ['first saved', data.oldestMessage ?? '-'],
    ['last saved', data.newestMessage ?? '-'],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  return io.out(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join(''));
}

/** `streams <store>`: every stream in creation order. */
async function streams({ store: locator }, { json }, io) {
  const infos = await reading(locator, async (store) => {
    const all = [];
    for (const id of await store.getStreams()) all.push(await store.getStreamInfo(id));
    return all.filter((i) => i !== null);
  });
  const data = infos.map((i) => ({
    streamId: i.streamId,
    revision: Number(i.revision),
    messageCount: i.messageCount,
    firstPosition: Number(i.firstPosition),
    lastPosition: Number(i.lastPosition),
    createdAt: iso(i.createdAt),
    lastUpdated: iso(i.lastUpdated),
  }));
  if (json) return io.out(`${JSON.stringify(data)}\n`);
  const headings = ['STREAM', 'REVISION', 'MESSAGES', 'FIRST', 'LAST', 'CREATED', 'LAST SAVED'];
  const dash = (n) => (n === 0 ? '-' : n);
  const rows = data.map((d) => [
    d.streamId,
    d.revision,
    d.messageCount,
    dash(d.firstPosition),
    dash(d.lastPosition),
    d.createdAt,
    d.messageCount === 0 ? '-' : d.lastUpdated,
  ]);
  return io.out(table(headings, rows, new Set(['REVISION', 'MESSAGES', 'FIRST', 'LAST'])));
}

/** `sessions <store>`: every session. */
async function sessions({ store: locator }, { json }, io) {
  const list = await reading(locator, (store) => store.getSessions());
  const data = list.map((s) => ({
    sessionId: s.sessionId,
    startedAt: iso(s.startedAt),
    lastActivity: iso(s.lastActivity),
    messageCount: s.messageCount,
    commandCount: s.commandCount,
    eventCount: s.eventCount,
  }));
  if (json) return io.out(`${JSON.stringify(data)}\n`);
  const headings = ['SESSION', 'STARTED', 'LAST ACTIVITY', 'MESSAGES', 'COMMANDS', 'EVENTS'];
  const rows = data.map((d) => [d.sessionId, d.startedAt, d.lastActivity, d.messageCount, d.commandCount, d.eventCount]);
  return io.out(table(headings, rows, new Set(['MESSAGES', 'COMMANDS', 'EVENTS'])));
}

/** A message as `tail` prints it on a terminal. */
function line(m) {
  const data = m.message.data === undefined ? '' : ` ${JSON.stringify(m.message.data)}`;
  return `#${m.position} ${m.streamId}@${m.revision} ${m.message.type} ${m.messageType} ${m.timestamp.toISOString()}${data}\n`;
}

/** A message as `tail --json` prints it: one JSON object, positions and revisions as numbers. */
function jsonLine(m) {
  return `${JSON.stringify({
    position: Number(m.position),
    streamId: m.streamId,
    revision: Number(m.revision),
    messageType: m.messageType,
    timestamp: m.timestamp,
    sessionId: m.sessionId,
    message: m.message,
  })}\n`;
}

/** `tail <store>`: follows the store until Ctrl-C (exit 0) or the store ends it. */
async function tail({ store: locator }, { stream, names, after, json }, io) {
  let afterPosition;
  if (after !== undefined) {
    if (!/^\d{1,15}$/.test(after)) throw new UsageError(`--after must be a position (a whole number), got '${after}'`, 'tail');
    afterPosition = Number(after);
  }
  if (stream === '') throw new UsageError('--stream must name a stream', 'tail');
  const messageNames = names === undefined ? [] : names.split(',').map((n) => n.trim());
  if (names !== undefined && messageNames.some((n) => n === '')) {
    throw new UsageError(`--names must be message types separated by commas, got '${names}'`, 'tail');
  }
  await reading(locator, async (store) => {
    if (afterPosition === undefined) afterPosition = (await store.getStats()).totalMessages;
    const filter = {};
    if (stream !== undefined) filter.streamId = stream;
    if (messageNames.length > 0) filter.messageNames = messageNames;
    const sub = store.subscribe({ afterPosition, filter, signal: io.signal });
    const print = json ? jsonLine : line;
    // A subscription waiting for the next message holds no handle of its own (a
    // memory store's waits on a promise): this keeps the process until Ctrl-C.
    const alive = setInterval(() => {}, 1 << 30);
    try {
      for await (const m of sub) await write(io.stdout, print(m));
    } catch (e) {
      // Ctrl-C, or the reader went away (`tail … | head`): both end it as asked.
      if (!io.signal.aborted && e.code !== 'EPIPE') throw e;
    } finally {
      clearInterval(alive);
      await sub.close();
    }
  });
}

module.exports = { stats, streams, sessions, tail };
