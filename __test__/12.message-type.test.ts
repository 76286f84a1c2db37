// docs/behaviour.md#writing-message-type: how each message's type is decided.

import { expectRejectedAndUnchanged } from './support/helpers';
import { stores } from './support/stores';

describe.each(stores)('$name: messageType', ({ create }) => {
  let store: any;
  beforeEach(() => {
    store = create();
  });

  async function typeOf(streamId: string, message: any, messageType?: any): Promise<string> {
    await store.saveMessage(streamId, message, undefined, messageType);
    const all = await store.getMessages(streamId);
    return all[all.length - 1].messageType;
  }

  test.each([
    // [streamId, message, messageType argument, expected]
    ['plain', { type: 'A' }, 'command', 'command'],
    ['plain', { type: 'A', requestId: 'r' }, 'event', 'event'],
    ['user-commands', { type: 'A' }, 'event', 'event'],
    ['user-events', { type: 'A', requestId: 'r' }, 'command', 'command'],
    ['user-commands', { type: 'A' }, undefined, 'command'],
    ['command', { type: 'A' }, undefined, 'command'],
    ['xcommandx', { type: 'A' }, undefined, 'command'],
    ['event-command', { type: 'A' }, undefined, 'command'],
    ['command-event', { type: 'A' }, undefined, 'command'],
    ['user-events', { type: 'A' }, undefined, 'event'],
    ['event', { type: 'A', requestId: 'r' }, undefined, 'event'],
    ['events-123', { type: 'A', requestId: 'r' }, undefined, 'event'],
    ['Commands', { type: 'A' }, undefined, 'event'],
    ['COMMAND', { type: 'A', requestId: 'r' }, undefined, 'command'],
    ['Events', { type: 'A', requestId: 'r' }, undefined, 'command'],
    ['EVENT', { type: 'A' }, undefined, 'event'],
    ['comm and', { type: 'A' }, undefined, 'event'],
    ['plain', { type: 'A', requestId: 'req-1' }, undefined, 'command'],
    ['plain', { type: 'A', requestId: '' }, undefined, 'event'],
    ['plain', { type: 'A', requestId: null }, undefined, 'event'],
    ['plain', { type: 'A', requestId: undefined }, undefined, 'event'],
    ['plain', { type: 'A' }, undefined, 'event'],
    ['plain', { type: 'A', requestId: 0 }, undefined, 'command'],
    ['plain', { type: 'A', requestId: false }, undefined, 'command'],
    ['plain', { type: 'A', requestId: ' ' }, undefined, 'command'],
    ['plain', { type: 'A', requestId: {} }, undefined, 'command'],
    ['plain', { type: 'A', data: { requestId: 'r' } }, undefined, 'event'],
    ['plain', { type: 'SomeCommand' }, undefined, 'event'],
    ['$all', { type: 'A', requestId: 'r' }, 'command', 'command'],
    ['plain', { type: 'A', requestId: 'r' }, null, 'command'],
    ['plain', { type: 'A' }, null, 'event'],
  ])('stream %p, message %p, messageType %p → %p', async (streamId, message, messageType, expected) => {
    expect(await typeOf(streamId, message, messageType)).toBe(expected);
  });

  test('inference is per message inside a batch', async () => {
    await store.saveMessages('mixed', [
      { type: 'A', requestId: 'r1' },
      { type: 'B' },
      { type: 'C', requestId: '' },
      { type: 'D', requestId: 'r2' },
    ]);
    expect((await store.getMessages('mixed')).map((m: any) => m.messageType)).toEqual(['command', 'event', 'event', 'command']);
  });

  test('the messageType argument applies to every message of a batch', async () => {
    await store.saveMessages('x-events', [{ type: 'A' }, { type: 'B', requestId: 'r' }], undefined, 'command');
    await store.saveMessages('x-commands', [{ type: 'C' }, { type: 'D', requestId: 'r' }], undefined, 'event');
    expect((await store.getAllMessages()).map((m: any) => m.messageType)).toEqual(['command', 'command', 'event', 'event']);
  });

  test('types drive stats and getAllCommands / getAllEvents', async () => {
    await store.saveMessage('user-commands', { type: 'C1' });
    await store.saveMessage('user-events', { type: 'E1' });
    await store.saveMessage('other', { type: 'C2', requestId: 'r' });
    await store.saveMessage('other', { type: 'E2' });
    await store.saveMessage('other', { type: 'E3' }, undefined, 'event');
    const stats = await store.getStats();
    expect([stats.totalMessages, stats.totalCommands, stats.totalEvents]).toEqual([5, 2, 3]);
    expect((await store.getAllCommands()).map((m: any) => m.message.type)).toEqual(['C1', 'C2']);
    expect((await store.getAllEvents()).map((m: any) => m.message.type)).toEqual(['E1', 'E2', 'E3']);
  });

  test.each([
    ['x', 'the string "x"'],
    ['', 'the string ""'],
    ['Command', 'the string "Command"'],
    ['EVENT', 'the string "EVENT"'],
    [1, 'the number 1'],
    [true, 'a boolean'],
    [{}, 'an object'],
  ])('messageType %p is a TypeError and changes nothing', async (messageType, description) => {
    await store.saveMessage('s', { type: 'A' });
    const text = `messageType must be 'command' or 'event', got ${description}`;
    await expectRejectedAndUnchanged(store, () => store.saveMessage('s', { type: 'B' }, undefined, messageType), TypeError, text);
    await expectRejectedAndUnchanged(store, () => store.saveMessages('t', [{ type: 'B' }], undefined, messageType), TypeError, text);
  });
});
