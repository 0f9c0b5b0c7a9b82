import { createMemoryStore } from '../../adapters/store/memory.ts';
import { sagaHostScenarios } from '../scenarios/saga-host.scenarios.ts';

sagaHostScenarios('the memory store', async (clock) => ({
  store: createMemoryStore({ clock, orderRetentionMs: 60_000 }),
  cleanup: async () => {},
}));
