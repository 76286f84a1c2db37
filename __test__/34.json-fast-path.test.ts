// getMessagesJson / getAllMessagesJson: one string, byte for byte JSON.stringify of
// what getMessages / getAllMessages return, with revision and position as decimal
// strings (the shape the message-bus server sends). Checked on random stores, on every
// store (the engine's write it without building objects; PostgreSQL's from the objects).
import type { MemoryMessageStore } from '@auto-engineer/message-store';
import { message, pick, rng } from './support/random';
import { stores } from './support/stores';

type Read = Awaited<ReturnType<MemoryMessageStore['getAllMessages']>>;

const serving = (messages: Read) =>
  JSON.stringify(messages.map((m) => ({ ...m, revision: m.revision.toString(), position: m.position.toString() })));

async function randomStore(create: () => any, seed: number) {
  const random = rng(seed);
  const store = create();
  const streams = ['orders', 'user-commands', 'events-\u{1F600}', 'quote"s', 'a\\b'];
  for (let i = 0; i < 120; i++) {
    const r = random();
    if (r < 0.05) await store.createSession();
    else if (r < 0.08) await store.endSession((await store.getSessions()).at(-1)?.sessionId ?? 'none');
    else if (r < 0.3) await store.saveMessages(pick(random, streams), [message(random), message(random), message(random)]);
    else await store.saveMessage(pick(random, streams), message(random), undefined, random() < 0.2 ? 'event' : undefined);
  }
  return { store, random, streams };
}

describe.each(stores)('$name: the JSON reads', ({ create }) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    test(`equals JSON.stringify of the object reads (seed ${seed})`, async () => {
      const { store, random, streams } = await randomStore(create, seed);
      for (const stream of [...streams, 'unknown']) {
        for (const [from, count] of [
          [undefined, undefined],
          [2n, undefined],
          [undefined, 3],
          [1n, 2],
        ] as const) {
          const json = await store.getMessagesJson(stream, from, count);
          expect(json).toBe(serving(await store.getMessages(stream, from, count)));
        }
      }
      const filters = [
        undefined,
        { messageType: 'command' as const },
        { correlationId: 'c-2' },
        { requestId: 'req-1', messageNames: ['A', 'B'] },
        { jsonFilter: { orderId: 'ord-2' } },
        { fromPosition: 10n, toPosition: 50n },
        { sessionId: 'no-session', streamId: 'orders' },
      ];
      for (const filter of filters) {
        const count = pick(random, [undefined, 1, 5, 1000]);
        const json = await store.getAllMessagesJson(filter, count);
        expect(json).toBe(serving(await store.getAllMessages(filter, count)));
        expect(JSON.parse(json).length).toBe((await store.getAllMessages(filter, count)).length);
      }
      expect(await store.getAllMessagesJson()).toBe(serving(await store.getAllMessages()));
    });
  }

  test('reads nothing as "[]" and rejects bad arguments like the object reads', async () => {
    const store = create();
    expect(await store.getAllMessagesJson()).toBe('[]');
    expect(await store.getMessagesJson('none')).toBe('[]');
    expect(await store.getAllMessagesJson({ jsonFilter: { n: NaN } })).toBe('[]');
    await expect(store.getMessagesJson(5 as never)).rejects.toThrow('streamId must be a string, got the number 5');
    await expect(store.getAllMessagesJson({ fromPosition: '1' } as never)).rejects.toThrow(
      'filter.fromPosition must be a bigint or an integer number, got the string "1"',
    );
  });

  test('writes a message saved without a timestamp with the save time as its last key', async () => {
    const store = create();
    await store.saveMessage('s', { type: 'A', data: { x: 1 } });
    const [m] = await store.getMessages('s');
    const iso = m.timestamp.toISOString();
    expect(await store.getMessagesJson('s')).toBe(
      `[{"streamId":"s","message":{"type":"A","data":{"x":1},"timestamp":"${iso}"},"messageType":"event","revision":"0","position":"1","timestamp":"${iso}","sessionId":"no-session"}]`,
    );
  });
});
