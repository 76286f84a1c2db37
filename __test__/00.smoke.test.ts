import { MemoryMessageStore } from '@auto-engineer/message-store';

test('saves and reads one message', async () => {
  const store = new MemoryMessageStore();
  await store.saveMessage('s', { type: 'A', data: { x: 1 } });
  const [m] = await store.getMessages('s');
  expect(m.message.timestamp).toBeInstanceOf(Date);
  expect(m).toEqual({
    streamId: 's',
    message: { type: 'A', data: { x: 1 }, timestamp: m.timestamp },
    messageType: 'event',
    revision: 0n,
    position: 1n,
    timestamp: m.timestamp,
    sessionId: 'no-session',
  });
});
