// Reads larger than one page of the native side (about 8 MiB of JSON) come back
// whole and in order, on every store: none limits how many messages one read returns.
import { stores } from './support/stores';

describe.each(stores)('$name', ({ create }) => {
  test('a read of 40,000 messages spans pages and returns every message in order', async () => {
    const store = create();
    const pad = 'p'.repeat(300);
    const batch = (k: number) => Array.from({ length: 1000 }, (_, i) => ({ type: 'Big', data: { i: k * 1000 + i, pad } }));
    for (let k = 0; k < 40; k++) await store.saveMessages(k % 2 ? 'odd' : 'even', batch(k));

    const all = await store.getAllMessages();
    expect(all.length).toBe(40_000);
    expect(all.every((m, i) => m.position === BigInt(i + 1) && m.message.data.i === i)).toBe(true);
    expect(all[39_999].streamId).toBe('odd');
    expect(all[39_999].revision).toBe(19_999n);

    const even = await store.getMessages('even');
    expect(even.length).toBe(20_000);
    expect(even.every((m, i) => m.revision === BigInt(i) && m.streamId === 'even')).toBe(true);

    const last = await store.getAllMessages(undefined, 25_000);
    expect(last.length).toBe(25_000);
    expect(last[0].position).toBe(15_001n);
    expect(last[24_999].position).toBe(40_000n);

    // A read right after still starts from its own first page.
    const few = await store.getMessages('odd', 19_998n);
    expect(few.map((m) => m.revision)).toEqual([19_998n, 19_999n]);
  });

  // Upstream's getAll* calls throw "Maximum call stack size exceeded" past about
  // 120,000 messages in one stream (a spread into push). Nothing here has such a limit.
  test('one stream of 200,000 messages works for every read', async () => {
    const store = create();
    for (let k = 0; k < 20; k++) {
      await store.saveMessages(
        '$all',
        Array.from({ length: 10_000 }, (_, i) => ({
          type: i % 2 ? 'Evt' : 'Cmd',
          data: { n: k * 10_000 + i },
          requestId: i % 2 ? undefined : `r-${k}-${i}`,
        })),
      );
    }
    expect((await store.getMessages('$all')).length).toBe(200_000);
    expect((await store.getAllMessages()).length).toBe(200_000);
    expect((await store.getAllCommands()).length).toBe(100_000);
    expect((await store.getAllEvents({ messageNames: ['Evt'] }, 3)).map((m) => m.position)).toEqual([199_996n, 199_998n, 200_000n]);
    expect((await store.getAllMessages({ requestId: 'r-19-9998' })).map((m) => m.revision)).toEqual([199_998n]);
    expect(JSON.parse(await store.getAllMessagesJson({ fromPosition: 199_999n })).map((m: { position: string }) => m.position)).toEqual([
      '199999',
      '200000',
    ]);
    expect((await store.getStreamInfo('$all'))?.revision).toBe(199_999n);
    expect((await store.getStats()).totalMessages).toBe(200_000);
  });

  // Saves issued in one turn reach the engine in calls of at most about 32 Mi characters
  // (lib/scheduler.js; a server gets them in one group): 7 saves of 10 MB each land whole and in order.
  test('saves issued together whose texts add up to 70 MB land whole and in call order', async () => {
    const store = create();
    const big = (n: number) => ({ type: 'Huge', data: { n, pad: String.fromCharCode(97 + n).repeat(10_000_000) } });
    await Promise.all([0, 1, 2, 3, 4, 5, 6].map((n) => store.saveMessage(n % 2 ? 'b' : 'a', big(n))));
    const all = await store.getAllMessages();
    expect(all.map((m) => [m.streamId, m.revision, m.position, m.message.data.n])).toEqual([
      ['a', 0n, 1n, 0],
      ['b', 0n, 2n, 1],
      ['a', 1n, 3n, 2],
      ['b', 1n, 4n, 3],
      ['a', 2n, 5n, 4],
      ['b', 2n, 6n, 5],
      ['a', 3n, 7n, 6],
    ]);
    expect(all.every((m) => m.message.data.pad === String.fromCharCode(97 + m.message.data.n).repeat(10_000_000))).toBe(true);
  });
});
