/** The forged-commands scenario on Kafka + Redis: the forged messages go onto the physical Kafka topics. */
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { realServices } from '../helpers/real-services.ts';
import { forgedCommandScenarios } from '../scenarios/forged-commands.scenarios.ts';

const found = await realServices('forged');

if (!found.services) {
  describe('forged commands on Kafka + Redis', () => {
    it('is skipped', { skip: found.skip }, () => {});
  });
} else {
  const { env, cleanup } = found.services;
  forgedCommandScenarios('Kafka + Redis', async () => ({ config: loadConfig(env), cleanup }));
}
