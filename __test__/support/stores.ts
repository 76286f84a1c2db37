// The store classes the behaviour suite runs against. Each behaviour file does
// `describe.each(stores)('$name', ({ create }) => ...)` and builds a fresh store per test,
// so another implementation can be checked by adding one line here.
import { MemoryMessageStore } from '@auto-engineer/message-store';

export interface StoreFactory {
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  create: () => any;
}

export const stores: StoreFactory[] = [{ name: 'MemoryMessageStore', create: () => new MemoryMessageStore() }];
