// Public types of @auto-engineer/message-store: the names and shapes of the
// TypeScript package 0.12.1, plus the error classes this package adds.

// biome-ignore lint/suspicious/noExplicitAny: upstream's message bus types data as Record<string, any>; unknown would break code written against it
type DefaultRecord = Record<string, any>;

/** A command, as the auto-engineer message bus defines it. */
export type Command<CommandType extends string = string, CommandData extends DefaultRecord = DefaultRecord> = Readonly<{
  type: CommandType;
  data: Readonly<CommandData>;
  timestamp?: Date;
  requestId?: string;
  correlationId?: string;
}>;

/** An event, as the auto-engineer message bus defines it. */
export type Event<EventType extends string = string, EventData extends DefaultRecord = DefaultRecord> = Readonly<{
  type: EventType;
  data: EventData;
  timestamp?: Date;
  requestId?: string;
  correlationId?: string;
}>;

export type Message = Command | Event;

export type MessageType = 'command' | 'event';

export interface PositionalMessage {
  streamId: string;
  message: Message;
  messageType: MessageType;
  revision: bigint;
  position: bigint;
  timestamp: Date;
  sessionId: string;
}

export interface MessageFilter {
  messageType?: MessageType;
  messageNames?: string[];
  streamId?: string;
  sessionId?: string;
  correlationId?: string;
  requestId?: string;
  fromPosition?: bigint;
  toPosition?: bigint;
  fromTimestamp?: Date;
  toTimestamp?: Date;
  /** Keys of `message.data` and the values they must equal (objects and arrays compare as JSON). */
  jsonFilter?: Record<string, unknown>;
}

export interface StreamInfo {
  streamId: string;
  revision: bigint;
  messageCount: number;
  firstPosition: bigint;
  lastPosition: bigint;
  createdAt: Date;
  lastUpdated: Date;
}

export interface SessionInfo {
  sessionId: string;
  startedAt: Date;
  messageCount: number;
  commandCount: number;
  eventCount: number;
  lastActivity: Date;
}

export interface MessageStoreStats {
  totalMessages: number;
  totalCommands: number;
  totalEvents: number;
  totalStreams: number;
  totalSessions: number;
  memoryUsage?: number;
  oldestMessage?: Date;
  newestMessage?: Date;
}

/**
 * What a save expects of its stream: its revision (`-1n`: no messages), or a mode:
 * `'any'` (no check), `'no_stream'` (no messages), `'stream_exists'` (at least one).
 */
export type ExpectedRevision = bigint | 'any' | 'no_stream' | 'stream_exists';

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /** Start after this position (the start when absent). */
  afterPosition?: bigint | number;
  /** Only what this filter lets through, as `getAllMessages(filter)`. */
  filter?: MessageFilter;
  /** Aborting it ends the subscription: the waiting (or next) pull rejects with its reason. */
  signal?: AbortSignal;
}

/** Options of `subscribeToStream`. */
export interface StreamSubscribeOptions {
  /** Start after this revision (all the stream's messages when absent or -1). */
  afterRevision?: bigint | number;
  signal?: AbortSignal;
}

/**
 * Stored messages after a position, then each new one once it is safe, in position
 * order, each once. Pulled: it reads a page (at most 1,024 messages) when asked and its
 * page is used up. `break`, `return()` and `close()` end it cleanly.
 */
export interface Subscription extends AsyncIterableIterator<PositionalMessage> {
  /** Resolves once every message stored at the start was handed to the consumer (or the subscription ended). */
  readonly caughtUp: Promise<void>;
  /** Messages read and not yet handed out: at most one page. */
  readonly buffered: number;
  /** Whether it has ended. */
  readonly closed: boolean;
  /** Ends it and releases what it holds. */
  close(): Promise<void>;
  return(): Promise<IteratorReturnResult<undefined>>;
}

export interface IMessageStore {
  /** Save messages to a specific stream. */
  saveMessages(streamId: string, messages: Message[], expectedRevision?: ExpectedRevision, messageType?: MessageType): Promise<void>;
  /** Save a single message to a stream. */
  saveMessage(streamId: string, message: Message, expectedRevision?: ExpectedRevision, messageType?: MessageType): Promise<void>;
  /** Get messages from a specific stream. */
  getMessages(streamId: string, fromRevision?: bigint, count?: number): Promise<PositionalMessage[]>;
  /** Get all messages across all streams with optional filtering. */
  getAllMessages(filter?: MessageFilter, count?: number): Promise<PositionalMessage[]>;
  /** Get all commands across all streams. */
  getAllCommands(filter?: Omit<MessageFilter, 'messageType'>, count?: number): Promise<PositionalMessage[]>;
  /** Get all events across all streams. */
  getAllEvents(filter?: Omit<MessageFilter, 'messageType'>, count?: number): Promise<PositionalMessage[]>;
  /** Get information about a specific stream. */
  getStreamInfo(streamId: string): Promise<StreamInfo | null>;
  /** Get all stream IDs. */
  getStreams(): Promise<string[]>;
  /** Get information about all sessions. */
  getSessions(): Promise<SessionInfo[]>;
  /** Get information about a specific session. */
  getSessionInfo(sessionId: string): Promise<SessionInfo | null>;
  /** Get messages for a specific session. */
  getSessionMessages(sessionId: string, filter?: Omit<MessageFilter, 'sessionId'>, count?: number): Promise<PositionalMessage[]>;
  /** Get storage statistics. */
  getStats(): Promise<MessageStoreStats>;
  /** Cleanup resources. */
  dispose(): Promise<void>;
}

export interface ILocalMessageStore extends IMessageStore {
  /** Reset/clear all stored messages. */
  reset(): Promise<void>;
  /** Create a new session and return the session ID. */
  createSession(): Promise<string>;
  /** Mark a session as ended. */
  endSession(sessionId: string): Promise<void>;
}

/** What both stores do: `ILocalMessageStore`, plus the JSON reads. */
interface MessageStoreMethods extends ILocalMessageStore {
  /**
   * A stream's messages as one JSON string: `JSON.stringify` of what `getMessages`
   * returns, with `revision` and `position` as decimal strings. Builds no objects.
   * Rejects with a RangeError when the result is longer than one JavaScript string can be.
   */
  getMessagesJson(streamId: string, fromRevision?: bigint, count?: number): Promise<string>;
  /** `getAllMessages` as one JSON string, in the shape of `getMessagesJson`. */
  getAllMessagesJson(filter?: MessageFilter, count?: number): Promise<string>;
  /** Every stored message after `afterPosition` that `filter` lets through, then each new one once safe. */
  subscribe(options?: SubscribeOptions): Subscription;
  /** One stream's messages after `afterRevision`, then each new one once safe. */
  subscribeToStream(streamId: string, options?: StreamSubscribeOptions): Subscription;
  /**
   * The store's history as NDJSON text (docs/cli.md#the-history-format): a header
   * line, then every stream and every message after `after` with the positions,
   * revisions, types, save times and sessions they have, as the store is at the start.
   */
  exportHistory(options?: ExportHistoryOptions): AsyncIterableIterator<string>;
  /**
   * Writes a history (`exportHistory`'s text, as strings or UTF-8 bytes) into this
   * store, which must be empty (or, with `resume`, hold the history's start). Rejects
   * with code `ERR_MESSAGE_STORE_INVALID_HISTORY` (a malformed line, with its number; a
   * gap; an unknown version; a text cut short) or `ERR_MESSAGE_STORE_NOT_EMPTY`; a
   * failed import into an empty store leaves it empty.
   */
  importHistory(
    source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
    options?: ImportHistoryOptions,
  ): Promise<ImportedHistory>;
  /** SHA-256 of the history lines of the messages at positions 1 to `upTo` (all by default). */
  historyDigest(upTo?: bigint | number): Promise<HistoryDigest>;
}

/** Options of `exportHistory`. */
export interface ExportHistoryOptions {
  /** Leave out the messages at positions up to this one (default 0: all). */
  after?: bigint | number;
}

/** Options of `importHistory`. */
export interface ImportHistoryOptions {
  /** Let the store hold the history's start already, which is skipped (a resumed copy). Default false. */
  resume?: boolean;
  /** Stops the import between two chunks; what was written stays, and importing again with `resume` continues it. */
  signal?: AbortSignal;
}

/** What `importHistory` wrote, from the history's header. */
export interface ImportedHistory {
  lastPosition: bigint;
  messages: number;
  streams: number;
  sessions: number;
  /** Messages the store held already (with `resume`), not written again. */
  skipped: number;
}

/** What `historyDigest` read. */
export interface HistoryDigest {
  lastPosition: bigint;
  sha256: string;
}

/** The class both stores extend at run time (not exported). */
declare const MessageStore: abstract new () => MessageStoreMethods;

/** Options of both stores. */
export interface MessageStoreOptions {
  /**
   * At most how many bytes (estimated) of the message objects reads have built are
   * kept, to be handed out again by later reads. The default is a quarter of the
   * JavaScript heap's limit, at most 1 GiB; `0` keeps nothing. What is kept counts in
   * `getStats().memoryUsage`. Messages reads return are shared and frozen either way.
   */
  cacheBytes?: number;
}

/**
 * The in-memory store, kept off the JavaScript heap by the native engine. Messages
 * that reads return are frozen and shared by every read (their Dates' setters throw).
 */
export declare class MemoryMessageStore extends MessageStore {
  constructor(options?: MessageStoreOptions);
}

/** Options of `SqliteMessageStore`. */
export interface SqliteMessageStoreOptions extends MessageStoreOptions {
  /**
   * What a change's promise waits for. `'process'` (the default): the change is
   * written to the operating system (SQLite WAL, no fsync): it survives the process
   * being killed or crashing, not a power loss. `'power'`: also synced to the disk
   * (one fsync per group commit): it survives power loss.
   */
  durability?: 'process' | 'power';
  /**
   * Opens an existing file to read it while another process writes it (or none does),
   * without the writer's lock; never creates a file. Every read first takes in what
   * the writer committed since (one `PRAGMA data_version` when nothing was), a
   * subscription gets the writer's new messages (the file is polled every 100 ms while
   * one is open), and a reset by the writer ends open subscriptions as a reset here
   * would. Every change (`saveMessage`, `saveMessages`, `createSession`, `endSession`,
   * `reset`, `importHistory`) rejects with code `ERR_MESSAGE_STORE_READ_ONLY`. Not
   * with `durability`.
   */
  readOnly?: boolean;
}

/**
 * The same store kept in a SQLite file. Opens (or creates) the file synchronously and
 * rebuilds the store from it; throws when the file cannot be opened, is not a
 * message-store file (left untouched) or is open in another process (one writer at a
 * time; `readOnly` stores read alongside it). Every change resolves once written;
 * `dispose()` closes the file, and later calls reject.
 */
export declare class SqliteMessageStore extends MessageStore {
  constructor(path: string, options?: SqliteMessageStoreOptions);
}

/** TLS to the server, with libpq's meanings; each overrides the connection string's own `ssl*` setting. */
export interface PostgresSslOptions {
  /**
   * libpq's `sslmode`. Default `'prefer'` (as libpq): TLS when the server offers it.
   * `'require'` refuses a server without TLS; `'verify-ca'` also checks the certificate's
   * chain, `'verify-full'` the chain and the host name (the only mode that stops a server
   * in the middle). Without `rootCert`, `verify-*` trust a bundled set of public roots.
   */
  mode?: 'disable' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  /** `sslrootcert`: the certificate authority to trust, as PEM text (string or Buffer) or a file's path; `'system'` for the bundled public roots. */
  rootCert?: string | Uint8Array;
  /** `sslcert`: the client certificate (PEM text or a path), with `key`, for `cert` authentication. */
  cert?: string | Uint8Array;
  /** `sslkey`: the client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1; text or a path). */
  key?: string | Uint8Array;
}

/** Options of `PostgresMessageStore`. */
export interface PostgresMessageStoreOptions {
  /**
   * A libpq connection string or URL: `postgres://user:password@host:5432/database`. Several
   * hosts (`postgres://u:p@a:5432,b:5432/db?target_session_attrs=read-write`) are tried in order,
   * for a primary and its standbys. `sslmode`, `sslrootcert`, `sslcert` and `sslkey` are read as libpq reads them.
   */
  connectionString: string;
  /** TLS settings, overriding the connection string's. */
  ssl?: PostgresSslOptions;
  /**
   * Milliseconds a call whose connection broke keeps trying to reach a server that accepts
   * writes (a restart, a standby being promoted) before it rejects with
   * `ERR_MESSAGE_STORE_FAILOVER_TIMEOUT`. Default 30000. A store that has never connected
   * rejects its first call at once instead.
   */
  failoverTimeout?: number;
  /** The schema that holds the store's tables (created when absent): a lower-case SQL name. Default `'message_store'`. */
  schema?: string;
  /**
   * The connections that carry calls (a whole number from 1 to 64, default 4), one
   * kept for appends so that reads and sessions never wait behind one; made as needed.
   * Besides them, an instance that saves holds one for sequencing, and one with open
   * subscriptions holds one that listens: at most `poolSize + 2` in all.
   */
  poolSize?: number;
  /**
   * Where subscriptions' listening connection goes instead of `connectionString`: a
   * direct connection to the server, when `connectionString` names a pooler in
   * transaction mode (PgBouncer), which does not pass `LISTEN` on. Without it, behind
   * such a pooler, subscriptions follow by polling every 250 ms. The `ssl` options
   * apply to it too.
   */
  listenConnectionString?: string;
}

/**
 * The store on a PostgreSQL server, shared by every process that names the same
 * schema. The constructor parses the connection string and reads the TLS files, but
 * connects to nothing; the first call connects and creates the tables if absent. `reset()` empties the tables for every process that shares them;
 * `dispose()` waits for what is pending and closes the connections; later calls reject.
 */
export declare class PostgresMessageStore extends MessageStore {
  constructor(options: string | PostgresMessageStoreOptions);
}

/** A save refused because the stream is not at the expected revision. */
/**
 * Opens the store `locator` names: `'memory:'`, a SQLite file's path or
 * `'sqlite:<path>'`, or a `postgres://` / `postgresql://` URL whose query may carry the
 * store's own options (`schema`, `poolSize`, `failoverTimeout`,
 * `listenConnectionString`) beside PostgreSQL's. `options` are the store's own and win
 * over the URL's. Throws a TypeError naming the accepted forms for anything else.
 */
export declare function openMessageStore(
  locator: string,
  options?: MessageStoreOptions & Partial<SqliteMessageStoreOptions> & Partial<PostgresMessageStoreOptions>,
): MemoryMessageStore | SqliteMessageStore | PostgresMessageStore;

export declare class ConcurrencyError extends Error {
  /** The stream the save was for. */
  readonly streamId: string;
  /** The revision the caller expected, or the mode (`'no_stream'`, `'stream_exists'`). */
  readonly expectedRevision: bigint | 'no_stream' | 'stream_exists';
  /** The stream's revision when the save was refused; -1n when it has no messages or does not exist. */
  readonly actualRevision: bigint;
}

/** `Stream <id> does not exist, but expected revision <n> was provided` */
export declare class StreamNotFoundError extends ConcurrencyError {}

/** `Expected revision <n> but stream is at revision <r>` */
export declare class WrongExpectedRevisionError extends ConcurrencyError {}
