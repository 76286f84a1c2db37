// The package's ESM entry: the same classes as the CommonJS entry, so that `import`
// and `require` in one process share them.
import cjs from './index.js';

export const {
  MemoryMessageStore,
  SqliteMessageStore,
  PostgresMessageStore,
  openMessageStore,
  ConcurrencyError,
  StreamNotFoundError,
  WrongExpectedRevisionError,
} = cjs;
export default cjs;
