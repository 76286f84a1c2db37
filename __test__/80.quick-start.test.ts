// docs/behaviour.md#quick-start: upstream's README Quick Start and how-to guides, as a
// user writes them, plus the way upstream's CLI server calls the store.
import * as pkg from '@auto-engineer/message-store';
import { MemoryMessageStore } from '@auto-engineer/message-store';
import { stores } from './support/stores';

describe('import by package name', () => {
  test('the package exports the store class and the concurrency error classes', () => {
    expect(typeof pkg.MemoryMessageStore).toBe('function');
    expect(typeof pkg.ConcurrencyError).toBe('function');
    expect(typeof pkg.StreamNotFoundError).toBe('function');
    expect(typeof pkg.WrongExpectedRevisionError).toBe('function');
    expect(new pkg.MemoryMessageStore()).toBeInstanceOf(MemoryMessageStore);
  });

  test('new MemoryMessageStore() works as the README writes it', async () => {
    const store = new MemoryMessageStore();
    await store.saveMessage('user-commands', { type: 'CreateUser', data: {} });
    expect(await store.getMessages('user-commands')).toHaveLength(1);
  });
});

describe.each(stores)('$name: Quick Start', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  test('save a command and read it back', async () => {
    await store.saveMessage('user-commands', {
      type: 'CreateUser',
      data: { name: 'Alice', email: 'alice@example.com' },
      requestId: 'req-123',
    });
    const messages = await store.getMessages('user-commands');
    expect(messages).toEqual([
      {
        streamId: 'user-commands',
        message: {
          type: 'CreateUser',
          data: { name: 'Alice', email: 'alice@example.com' },
          requestId: 'req-123',
          timestamp: expect.any(Date),
        },
        messageType: 'command',
        revision: 0n,
        position: 1n,
        timestamp: expect.any(Date),
        sessionId: 'no-session',
      },
    ]);
    expect(messages[0].message.timestamp.getTime()).toBe(messages[0].timestamp.getTime());
  });

  test('filter messages: recent commands by name, by correlation id, by data', async () => {
    await store.saveMessage('user-commands', { type: 'CreateUser', data: { name: 'Alice' }, requestId: 'req-1' });
    await store.saveMessage('user-commands', { type: 'DeleteUser', data: { name: 'Bob' }, requestId: 'req-2' });
    await store.saveMessage('user-commands', { type: 'UpdateUser', data: { name: 'Alice' }, correlationId: 'corr-456' });
    await store.saveMessage('order-events', { type: 'OrderPlaced', data: { orderId: 'ord-1' }, correlationId: 'corr-456' });
    await store.saveMessage('order-events', { type: 'OrderPlaced', data: { orderId: 'ord-2' } });

    const recentCommands = await store.getAllCommands({
      fromTimestamp: new Date(Date.now() - 3_600_000),
      messageNames: ['CreateUser', 'UpdateUser'],
    });
    expect(recentCommands.map((m: any) => [m.message.type, m.position])).toEqual([
      ['CreateUser', 1n],
      ['UpdateUser', 3n],
    ]);
    const correlated = await store.getAllMessages({ correlationId: 'corr-456' });
    expect(correlated.map((m: any) => [m.streamId, m.message.type, m.messageType])).toEqual([
      ['user-commands', 'UpdateUser', 'command'],
      ['order-events', 'OrderPlaced', 'event'],
    ]);
    const byData = await store.getAllMessages({ jsonFilter: { orderId: 'ord-1' } });
    expect(byData.map((m: any) => m.position)).toEqual([4n]);
    expect(await store.getAllCommands({ fromTimestamp: new Date(Date.now() + 3_600_000) })).toEqual([]);
  });

  test('optimistic concurrency: the second save with BigInt(-1) is refused', async () => {
    const command1 = { type: 'PlaceOrder', data: { orderId: 'ord-001', total: 99.99 } };
    const command2 = { type: 'CancelOrder', data: { orderId: 'ord-001' } };
    await store.saveMessage('orders-123', command1);
    expect((await store.getStreamInfo('orders-123')).revision).toBe(0n);
    let caught: any;
    try {
      await store.saveMessage('orders-123', command2, BigInt(-1));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught.message).toBe('Expected revision -1 but stream is at revision 0');
    expect(await store.getMessages('orders-123')).toHaveLength(1);
    await store.saveMessage('orders-123', command2, BigInt(0));
    expect((await store.getStreamInfo('orders-123')).revision).toBe(1n);
  });

  test('use sessions, as the README shows', async () => {
    const sessionId = await store.createSession();
    await store.saveMessage('commands', { type: 'StartProcess', data: {} });
    await store.saveMessage('events', { type: 'ProcessStarted', data: {} });
    const sessionMessages = await store.getSessionMessages(sessionId);
    expect(sessionMessages.map((m: any) => [m.streamId, m.message.type, m.messageType, m.sessionId])).toEqual([
      ['commands', 'StartProcess', 'command', sessionId],
      ['events', 'ProcessStarted', 'event', sessionId],
    ]);
    await store.endSession(sessionId);
    expect(await store.getSessionInfo(sessionId)).toEqual({
      sessionId,
      startedAt: expect.any(Date),
      messageCount: 2,
      commandCount: 1,
      eventCount: 1,
      lastActivity: expect.any(Date),
    });
  });

  test('the CLI server pattern: commands on $all with an explicit type, events read back', async () => {
    const command = { type: 'CreateExample', data: { name: 'x' }, requestId: 'req-a', correlationId: 'corr-a' };
    await store.saveMessage('$all', command, undefined, 'command');
    await store.saveMessage('$all', { type: 'ExampleCreated', data: { name: 'x' }, correlationId: 'corr-a' }, undefined, 'event');
    expect((await store.getAllCommands()).map((m: any) => m.message.requestId)).toEqual(['req-a']);
    expect((await store.getAllEvents({ correlationId: 'corr-a' })).map((m: any) => m.message.type)).toEqual(['ExampleCreated']);
    expect((await store.getAllMessages(undefined, 1)).map((m: any) => m.position)).toEqual([2n]);
    expect(await store.getStats()).toEqual({
      totalMessages: 2,
      totalCommands: 1,
      totalEvents: 1,
      totalStreams: 1,
      totalSessions: 0,
      memoryUsage: expect.any(Number),
      oldestMessage: expect.any(Date),
      newestMessage: expect.any(Date),
    });
  });
});
