// The Quick Start from CommonJS: `require` gets the same package.
const assert = require('node:assert/strict');
const { MemoryMessageStore } = require('@auto-engineer/message-store');

(async () => {
  const store = new MemoryMessageStore();
  await store.saveMessage('user-commands', {
    type: 'CreateUser',
    data: { name: 'Alice', email: 'alice@example.com' },
    requestId: 'req-123',
  });
  const [m] = await store.getMessages('user-commands');
  assert.equal(m.revision, 0n);
  assert.equal(m.position, 1n);
  assert.equal(m.messageType, 'command');
  await store.saveMessage('orders-123', { type: 'PlaceOrder', data: { orderId: 'ord-1' } });
  await assert.rejects(store.saveMessage('orders-123', { type: 'ShipOrder', data: {} }, BigInt(-1)), {
    message: 'Expected revision -1 but stream is at revision 0',
  });
  console.log('quick start (require): all results as documented');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
