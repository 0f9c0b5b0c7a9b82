import { createMemoryStore } from '../../adapters/store/memory.ts';
import { sagaHostSuite } from '../contract/saga-host.suite.ts';

sagaHostSuite('the memory store', async (clock) => ({
  store: createMemoryStore({ clock, orderRetentionMs: 60_000 }),
  cleanup: async () => {},
}));
