'use strict';

// The benchmark's workload: N messages over 1,000 streams, 10% of them
// with `commands` in the name, one stream ("orders-special") of exactly 1,000
// messages; about 230 bytes of JSON data per message with ids, strings, a number and
// a nested object; groups of 100 consecutive messages share a correlation id (so a
// correlation query returns 100); half carry a requestId. Deterministic.

const { rng } = require('../__test__/support/prng');

const STREAMS = 1000;
const NAMES = [
  'CreateUser',
  'UpdateUser',
  'DeleteUser',
  'PlaceOrder',
  'ShipOrder',
  'CancelOrder',
  'UserCreated',
  'UserUpdated',
  'OrderPlaced',
  'OrderShipped',
  'OrderCancelled',
  'PaymentTaken',
];
const SPECIAL = 'orders-special';

function streamName(k) {
  if (k === 0) return SPECIAL;
  return k % 10 === 0 ? `user-commands-${k}` : `orders-${k}`;
}

/** Calls `visit(streamId, message, i)` for each of the N messages, in save order. */
function generate(n, visit) {
  const random = rng(42);
  const everyNth = Math.max(1, Math.floor(n / 1000));
  for (let i = 0; i < n; i++) {
    const k = i % everyNth === 0 && i / everyNth < 1000 ? 0 : 1 + Math.floor(random() * (STREAMS - 1));
    const stream = streamName(k);
    const message = {
      type: NAMES[i % NAMES.length],
      data: {
        orderId: `ord-${k}`,
        customerId: `cust-${(i * 7919) % 100000}`,
        sku: `SKU-${(i * 31) % 5000}-XL-BLUE`,
        note: 'Leave at the front door, ring twice',
        quantity: (i % 9) + 1,
        tags: ['priority', 'gift'],
        amount: Math.round(random() * 100000) / 100,
        shipping: { city: 'Amsterdam', zip: '1011AB', express: i % 3 === 0 },
      },
      correlationId: `corr-${Math.floor(i / 100)}`,
    };
    if (i % 2 === 0) message.requestId = `req-${i}`;
    visit(stream, message, i);
  }
}

module.exports = { generate, streamName, NAMES, SPECIAL, STREAMS };
