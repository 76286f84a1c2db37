// The store classes the behaviour suite runs against. Each behaviour file does
// `describe.each(stores)('$name', ({ create }) => ...)` and builds a fresh store per test,
// so another implementation is checked by adding one line here. The SQLite store gets a
// new file in a temporary folder each time (removed after the test file's tests).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryMessageStore, PostgresMessageStore, SqliteMessageStore } from '@auto-engineer/message-store';

export interface StoreFactory {
  name: string;
  /** Whether the store keeps a file or a server's schema: `dispose()` closes it instead of emptying the store. */
  durable: boolean;
  /**
   * Whether reads hand out the objects an earlier read built (the engine's object cache,
   * docs/behaviour.md#reading-shared); a server's reads build their own each time.
   */
  keepsObjects: boolean;
  create: () => any;
  /** A second instance on the same data, for a store that many instances share (PostgreSQL). */
  sameData?: (store: any) => any;
}

let folder: string | undefined;
let files = 0;

// Registered when a test file imports this module (hooks cannot be added inside a test);
// jest's workers never run a process 'exit' listener.
afterAll(() => {
  if (folder !== undefined) fs.rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

/** A path for a new SQLite store file. */
export function tempDbPath(): string {
  if (folder === undefined) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'message-store-test-'));
    folder = dir;
  }
  files += 1;
  return path.join(folder, `store-${process.pid}-${files}.db`);
}

const localStores: StoreFactory[] = [
  { name: 'MemoryMessageStore', durable: false, keepsObjects: true, create: () => new MemoryMessageStore() },
  { name: 'SqliteMessageStore', durable: true, keepsObjects: true, create: () => new SqliteMessageStore(tempDbPath()) },
];

let schemas = 0;
const schemaOf = new WeakMap<object, string>();
const pgOpen: any[] = [];
afterAll(async () => {
  await Promise.all(pgOpen.splice(0).map((s) => s.dispose()));
});

type PgConnections = { connectionString: string; listenConnectionString?: string };

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined)
    throw new Error(`${name} is not set: run the tests with jest, whose globalSetup starts PostgreSQL and PgBouncer`);
  return value;
}

/**
 * A PostgreSQL store factory: a fresh schema of the test server each time (disposed after
 * the file's tests), through `options()`'s connections (read when called: jest's globalSetup sets them).
 */
function pgFactory(name: string, options: () => PgConnections): StoreFactory {
  const open = (schema: string) => {
    const store = new PostgresMessageStore({ ...options(), schema });
    schemaOf.set(store, schema);
    pgOpen.push(store);
    return store;
  };
  return {
    name,
    durable: true,
    keepsObjects: false,
    // Each test file has its own copy of this module: the time keeps their schemas apart.
    create: () => open(`f_${process.pid}_${Date.now().toString(36)}_${++schemas}`),
    sameData: (store) => open(schemaOf.get(store) as string),
  };
}

/** The PostgreSQL store, straight to the test server. */
export const postgresStore = pgFactory('PostgresMessageStore', () => ({ connectionString: env('DATABASE_URL') }));

/**
 * The PostgreSQL store through PgBouncer in transaction mode (pgbouncer.mjs): every
 * statement may land on another server connection. LISTEN goes straight to the server,
 * as a deployment behind such a pooler has to do.
 */
export const pgbouncerStore = pgFactory('PostgresMessageStore via PgBouncer', () => ({
  connectionString: env('MESSAGE_STORE_PGBOUNCER_URL'),
  listenConnectionString: env('DATABASE_URL'),
}));

/** Every store: what each behaviour suite runs against. */
export const stores: StoreFactory[] = [...localStores, postgresStore, pgbouncerStore];
export const allStores = stores;
