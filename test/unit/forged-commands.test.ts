/** The forged-commands scenario on the embedded adapters (memory broker and store). */
import { loadConfig } from '../../src/config.ts';
import { forgedCommandScenarios } from '../scenarios/forged-commands.scenarios.ts';

forgedCommandScenarios('memory', async () => ({ config: loadConfig({}), cleanup: async () => {} }));
