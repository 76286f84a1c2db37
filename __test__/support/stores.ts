// The store classes the behaviour suite runs against. Each behaviour file does
// `describe.each(stores)('$name', ({ create }) => ...)` and builds a fresh store per test,
// so another implementation is checked by adding one line here. The SQLite store gets a
// new file in a temporary folder each time (removed after the test file's tests).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryMessageStore, SqliteMessageStore } from '@auto-engineer/message-store';

export interface StoreFactory {
  name: string;
  /** Whether the store keeps a file: `dispose()` closes it instead of emptying the store. */
  durable: boolean;
  create: () => any;
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

export const stores: StoreFactory[] = [
  { name: 'MemoryMessageStore', durable: false, create: () => new MemoryMessageStore() },
  { name: 'SqliteMessageStore', durable: true, create: () => new SqliteMessageStore(tempDbPath()) },
];
