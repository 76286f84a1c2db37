// Type test from an ES module: the same names resolve through the `import` condition.
import { type ILocalMessageStore, MemoryMessageStore, type PositionalMessage } from '@auto-engineer/message-store';

const store: ILocalMessageStore = new MemoryMessageStore();
await store.saveMessage('user-commands', { type: 'CreateUser', data: { name: 'Alice' }, requestId: 'req-123' });
const read: PositionalMessage[] = await store.getMessages('user-commands');
const position: bigint = read[0].position;
// @ts-expect-error position is a bigint, not a number
const wrong: number = read[0].position;

export { position, wrong };
