// The Quick Start of the README, run as a user would: `pnpm demo` (after `pnpm build`).
// It checks what it prints, so it doubles as the install test's script.
import assert from 'node:assert/strict';
import { MemoryMessageStore, WrongExpectedRevisionError } from '@auto-engineer/message-store';

const store = new MemoryMessageStore();

await store.saveMessage('user-commands', {
  type: 'CreateUser',
  data: { name: 'Alice', email: 'alice@example.com' },
  requestId: 'req-123',
});

const messages = await store.getMessages('user-commands');
console.log('getMessages:', messages);
assert.equal(messages.length, 1);
assert.equal(messages[0].revision, 0n);
assert.equal(messages[0].position, 1n);
assert.equal(messages[0].messageType, 'command');
assert.equal(messages[0].sessionId, 'no-session');
assert.ok(messages[0].timestamp instanceof Date);
assert.deepEqual(messages[0].message.data, { name: 'Alice', email: 'alice@example.com' });

const recentCommands = await store.getAllCommands({
  fromTimestamp: new Date(Date.now() - 3_600_000),
  messageNames: ['CreateUser', 'UpdateUser'],
});
assert.deepEqual(
  recentCommands.map((m) => m.message.type),
  ['CreateUser'],
);

await store.saveMessage('orders-123', { type: 'PlaceOrder', data: { orderId: 'ord-1' }, correlationId: 'corr-456' });
const correlated = await store.getAllMessages({ correlationId: 'corr-456' });
assert.deepEqual(
  correlated.map((m) => [m.streamId, m.position]),
  [['orders-123', 2n]],
);
const byOrder = await store.getAllMessages({ jsonFilter: { orderId: 'ord-1' } });
assert.deepEqual(
  byOrder.map((m) => m.message.type),
  ['PlaceOrder'],
);

try {
  await store.saveMessage('orders-123', { type: 'ShipOrder', data: { orderId: 'ord-1' } }, BigInt(-1));
  assert.fail('the save should have been refused');
} catch (error) {
  console.log('Concurrency conflict:', error.message);
  assert.equal(error.message, 'Expected revision -1 but stream is at revision 0');
  assert.ok(error instanceof WrongExpectedRevisionError);
}

const stats = await store.getStats();
console.log('getStats:', stats);
assert.equal(stats.totalMessages, 2);
assert.equal(stats.totalStreams, 2);
console.log('quick start: all results as documented');
