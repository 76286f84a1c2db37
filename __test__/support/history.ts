// What the history tests share: reading a store whole, its export as one string, and
// a rejection's code and text.

/** Everything a store reads back, but its memory use. */
export async function snapshot(store: any) {
  const streams: string[] = await store.getStreams();
  const infos: Record<string, unknown> = {};
  for (const s of streams) infos[s] = await store.getStreamInfo(s);
  const { memoryUsage: _, ...stats } = await store.getStats();
  return { all: await store.getAllMessages(), streams, infos, sessions: await store.getSessions(), stats };
}

/** `exportHistory(options)`'s pages, end to end. */
export async function text(store: any, options?: object) {
  let out = '';
  for await (const page of store.exportHistory(options)) out += page;
  return out;
}

/** The code and message `p` rejects with; fails when it resolves. */
export async function rejection(p: Promise<unknown>) {
  try {
    await p;
  } catch (e) {
    return { code: (e as any).code, message: (e as Error).message };
  }
  throw new Error('resolved');
}
