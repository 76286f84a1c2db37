// Type test: upstream's README Quick Start, as a user writes it, plus a user's own
// store that implements IMessageStore. Compiled with `tsc --noEmit` under node16 and
// bundler resolution; it is never run.
import {
  type Command,
  ConcurrencyError,
  type Event,
  type HistoryDigest,
  type ILocalMessageStore,
  type IMessageStore,
  type ImportedHistory,
  MemoryMessageStore,
  type Message,
  type MessageFilter,
  type MessageStoreStats,
  type MessageType,
  openMessageStore,
  type PositionalMessage,
  type SessionInfo,
  SqliteMessageStore,
  type StreamInfo,
  type Subscription,
  WrongExpectedRevisionError,
} from '@auto-engineer/message-store';

export async function quickStart(): Promise<void> {
  const store = new MemoryMessageStore();

  await store.saveMessage('user-commands', {
    type: 'CreateUser',
    data: { name: 'Alice', email: 'alice@example.com' },
    requestId: 'req-123',
  });

  const messages: PositionalMessage[] = await store.getMessages('user-commands');
  const first = messages[0];
  const revision: bigint = first.revision;
  const position: bigint = first.position;
  const when: Date = first.timestamp;
  const name: string = first.message.data.name;
  void [revision, position, when, name];

  const recentCommands = await store.getAllCommands({
    fromTimestamp: new Date(Date.now() - 3_600_000),
    messageNames: ['CreateUser', 'UpdateUser'],
  });
  const correlated = await store.getAllMessages({ correlationId: 'corr-456' });
  const byOrder = await store.getAllMessages({ jsonFilter: { orderId: 'ord-1' } });
  void [recentCommands, correlated, byOrder];

  const command1: Command<'PlaceOrder', { orderId: string }> = { type: 'PlaceOrder', data: { orderId: 'ord-1' } };
  const command2: Command = { type: 'ShipOrder', data: { orderId: 'ord-1' }, correlationId: 'corr-456' };
  await store.saveMessage('orders-123', command1);
  try {
    await store.saveMessage('orders-123', command2, BigInt(-1));
  } catch (error) {
    console.log('Concurrency conflict:', (error as Error).message);
    if (error instanceof WrongExpectedRevisionError) {
      const actual: bigint = error.actualRevision;
      void actual;
    }
    if (error instanceof ConcurrencyError) {
      const stream: string = error.streamId;
      void stream;
    }
  }

  const sessionId: string = await store.createSession();
  const info: SessionInfo | null = await store.getSessionInfo(sessionId);
  const sessionMessages = await store.getSessionMessages(sessionId, { messageType: 'event' }, 10);
  const streamInfo: StreamInfo | null = await store.getStreamInfo('orders-123');
  const stats: MessageStoreStats = await store.getStats();
  const streams: string[] = await store.getStreams();
  await store.endSession(sessionId);
  void [info, sessionMessages, streamInfo, stats, streams];

  // A number where a bigint is required must not compile.
  // @ts-expect-error expectedRevision is a bigint
  await store.saveMessage('orders-123', command2, 0);
  // @ts-expect-error fromRevision is a bigint
  await store.getMessages('orders-123', 1);
  // @ts-expect-error fromPosition is a bigint
  await store.getAllMessages({ fromPosition: 5 });

  await store.reset();
  await store.dispose();
}

const event: Event<'OrderPlaced', { orderId: string }> = { type: 'OrderPlaced', data: { orderId: 'o' } };
const kind: MessageType = 'event';
const filter: MessageFilter = { messageType: kind, streamId: 'orders-123', fromPosition: 1n, toPosition: 10n };
void [event, filter];

/** A user's own store, written against the package's types. */
export class ArrayMessageStore implements IMessageStore {
  private readonly all: PositionalMessage[] = [];

  async saveMessages(streamId: string, messages: Message[], _expectedRevision?: bigint, messageType?: MessageType): Promise<void> {
    for (const message of messages) {
      const revision = BigInt(this.all.filter((m) => m.streamId === streamId).length);
      this.all.push({
        streamId,
        message,
        messageType: messageType ?? 'event',
        revision,
        position: BigInt(this.all.length + 1),
        timestamp: new Date(),
        sessionId: 'no-session',
      });
    }
  }
  async saveMessage(streamId: string, message: Message, expectedRevision?: bigint, messageType?: MessageType): Promise<void> {
    return this.saveMessages(streamId, [message], expectedRevision, messageType);
  }
  async getMessages(streamId: string, fromRevision?: bigint, count?: number): Promise<PositionalMessage[]> {
    const from = fromRevision ?? 0n;
    const found = this.all.filter((m) => m.streamId === streamId && m.revision >= from);
    return count !== undefined && count > 0 ? found.slice(-count) : found;
  }
  async getAllMessages(filter?: MessageFilter, count?: number): Promise<PositionalMessage[]> {
    const found = this.all.filter((m) => filter?.messageType === undefined || m.messageType === filter.messageType);
    return count !== undefined && count > 0 ? found.slice(-count) : found;
  }
  async getAllCommands(filter?: Omit<MessageFilter, 'messageType'>, count?: number): Promise<PositionalMessage[]> {
    return this.getAllMessages({ ...filter, messageType: 'command' }, count);
  }
  async getAllEvents(filter?: Omit<MessageFilter, 'messageType'>, count?: number): Promise<PositionalMessage[]> {
    return this.getAllMessages({ ...filter, messageType: 'event' }, count);
  }
  async getStreamInfo(_streamId: string): Promise<StreamInfo | null> {
    return null;
  }
  async getStreams(): Promise<string[]> {
    return [...new Set(this.all.map((m) => m.streamId))];
  }
  async getSessions(): Promise<SessionInfo[]> {
    return [];
  }
  async getSessionInfo(_sessionId: string): Promise<SessionInfo | null> {
    return null;
  }
  async getSessionMessages(_sessionId: string, _filter?: Omit<MessageFilter, 'sessionId'>, _count?: number): Promise<PositionalMessage[]> {
    return [];
  }
  async getStats(): Promise<MessageStoreStats> {
    return { totalMessages: this.all.length, totalCommands: 0, totalEvents: 0, totalStreams: 0, totalSessions: 0 };
  }
  async dispose(): Promise<void> {
    this.all.length = 0;
  }
}

// The durable store is the same interface; its options are checked.
export const durable: ILocalMessageStore = new SqliteMessageStore('./messages.db', { durability: 'power' });
// @ts-expect-error durability is 'process' or 'power'
export const wrongDurability = new SqliteMessageStore('./messages.db', { durability: 'disk' });

// The class shipped is a local store and can stand where either interface is wanted.
export const asLocal: ILocalMessageStore = new MemoryMessageStore();
export const asStore: IMessageStore = asLocal;

// Subscriptions and the expected-revision modes.
export async function follow(store: MemoryMessageStore, signal: AbortSignal): Promise<bigint> {
  await store.saveMessage('order-1', { type: 'OrderPlaced', data: {} }, 'no_stream');
  await store.saveMessages('order-1', [{ type: 'OrderShipped', data: {} }], 'stream_exists');
  // @ts-expect-error not a mode
  await store.saveMessage('order-1', { type: 'X', data: {} }, 'latest');
  const sub: Subscription = store.subscribe({ afterPosition: 0n, filter: { messageNames: ['OrderPlaced'] }, signal });
  let last = 0n;
  for await (const m of sub) last = m.position;
  await sub.caughtUp;
  const stream = store.subscribeToStream('order-1', { afterRevision: 0 });
  const first = await stream.next();
  if (!first.done) last = first.value.revision;
  await stream.close();
  // @ts-expect-error afterRevision belongs to subscribeToStream
  store.subscribe({ afterRevision: 1n });
  return last + BigInt(sub.buffered);
}

// Opening any store from a locator, and moving a history between two.
export async function move(from: string, to: string): Promise<string> {
  const source = openMessageStore(from);
  const target = openMessageStore(to, { schema: 'bus', readOnly: false });
  const done: ImportedHistory = await target.importHistory(source.exportHistory({ after: 0n }), { resume: true });
  const digest: HistoryDigest = await target.historyDigest(done.lastPosition);
  // @ts-expect-error resume is a boolean
  await target.importHistory([''], { resume: 'yes' });
  return digest.sha256;
}
