// The README's "Subscriptions" example, as a file: `node examples/subscriptions.mjs`
// (after `pnpm build`). A projection catches up on what is stored, then follows new
// events; a second subscription resumes after the last position it saw.
import { MemoryMessageStore } from '@auto-engineer/message-store';

const store = new MemoryMessageStore();
await store.saveMessage('order-1', { type: 'OrderPlaced', data: { total: 30 } }, 'no_stream');
await store.saveMessage('order-2', { type: 'OrderPlaced', data: { total: 12 } }, 'no_stream');

const controller = new AbortController();
const placed = store.subscribe({ filter: { messageNames: ['OrderPlaced'] }, signal: controller.signal });
let revenue = 0;
let last = 0n;
const projection = (async () => {
  try {
    for await (const m of placed) {
      revenue += m.message.data.total;
      last = m.position;
    }
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  }
})();

await placed.caughtUp; // both stored orders are counted now
console.log(`caught up: revenue ${revenue}, last position ${last}`);

await store.saveMessage('order-3', { type: 'OrderPlaced', data: { total: 8 } }, 'no_stream');
await store.saveMessage('order-1', { type: 'OrderShipped', data: {} }, 'stream_exists');
await new Promise((resolve) => setTimeout(resolve, 10));
console.log(`live: revenue ${revenue}, last position ${last}`);

controller.abort(); // ends the subscription; the loop sees an AbortError
await projection;

// Resume exactly after the last position seen.
const resumed = store.subscribe({ afterPosition: last });
await store.saveMessage('order-4', { type: 'OrderPlaced', data: { total: 5 } });
const { value } = await resumed.next();
console.log(`resumed: ${value.streamId} at position ${value.position}`);
await resumed.close();

const stream = store.subscribeToStream('order-1');
for await (const m of stream) {
  console.log(`order-1 revision ${m.revision}: ${m.message.type}`);
  if (m.revision === 1n) break;
}
