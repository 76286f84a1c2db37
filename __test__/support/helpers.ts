// Shared helpers for the behaviour suite.

/** Everything observable about a store except `memoryUsage`, as plain data. */
export async function observe(store: any) {
  const stats = await store.getStats();
  delete stats.memoryUsage;
  const streams: string[] = await store.getStreams();
  const infos = [];
  for (const id of streams) infos.push(await store.getStreamInfo(id));
  const sessions = await store.getSessions();
  const messages = await store.getAllMessages();
  return { stats, streams, infos, sessions, messages };
}

/**
 * Runs `act` (which must reject with `errorClass` and exactly `text`, or text matching
 * a RegExp) and checks
 * that nothing observable changed, then that the next save still gets the next
 * position and, when a session is current, the same session stamp.
 */
export async function expectRejectedAndUnchanged(store: any, act: () => Promise<any>, errorClass: any, text: string | RegExp) {
  const before = await observe(store);
  const promise = act();
  await expect(promise).rejects.toThrow(text);
  const error = await promise.catch((e: unknown) => e);
  expect(error).toBeInstanceOf(errorClass);
  if (typeof text === 'string') expect((error as Error).message).toBe(text);
  else expect((error as Error).message).toMatch(text);
  const after = await observe(store);
  expect(after).toEqual(before);
  return before;
}

/** Saves one probe message to a fresh stream and returns its stored form. */
export async function probe(store: any, streamId = '__probe__') {
  await store.saveMessage(streamId, { type: 'Probe', data: {} });
  const all = await store.getMessages(streamId);
  return all[all.length - 1];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `Date.now()` has moved past `t` (so two saves get distinct save times). */
export async function tick(t: number = Date.now()) {
  while (Date.now() <= t) await sleep(1);
}

/** What JSON gives back for a value, the reference for round trips. */
export const viaJson = (x: unknown) => JSON.parse(JSON.stringify(x));

export const POSITIONAL_KEYS = ['streamId', 'message', 'messageType', 'revision', 'position', 'timestamp', 'sessionId'];
export const STREAM_INFO_KEYS = ['streamId', 'revision', 'messageCount', 'firstPosition', 'lastPosition', 'createdAt', 'lastUpdated'];
export const SESSION_KEYS = ['sessionId', 'startedAt', 'messageCount', 'commandCount', 'eventCount', 'lastActivity'];
export const STATS_KEYS = [
  'totalMessages',
  'totalCommands',
  'totalEvents',
  'totalStreams',
  'totalSessions',
  'memoryUsage',
  'oldestMessage',
  'newestMessage',
];
export const SESSION_ID = /^session-\d+-[A-Za-z0-9_-]{8}$/;
