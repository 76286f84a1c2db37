// The stores over another build of the native module (a counting wrapper, or the
// tests' own build with its hooks): the face (lib/store.js) over the engine backend
// made with that module, as lib/stores.js makes them over the release build.
import createDebug from 'debug';

const { MessageStore } = require('../../lib/store.js');
const { EngineBackend } = require('../../lib/backends/engine.js');

const debug = createDebug('auto:message-store:test');

export function storesOver(native: any) {
  class MemoryMessageStore extends MessageStore {
    constructor(options?: { cacheBytes?: number }) {
      super(EngineBackend.memory(native), { debug, cacheBytes: options?.cacheBytes });
    }
  }
  class SqliteMessageStore extends MessageStore {
    constructor(path: string, options?: { durability?: 'process' | 'power'; cacheBytes?: number }) {
      super(EngineBackend.sqlite(native, path, options?.durability), { debug, cacheBytes: options?.cacheBytes });
    }
  }
  return { MemoryMessageStore, SqliteMessageStore };
}
