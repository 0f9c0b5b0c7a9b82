/** The saga host's scenarios (CAS races, crash between snapshot and send, leases) on real Redis. */
import { describe, it } from 'node:test';
import { createRedisStore } from '../../adapters/store/redis.ts';
import { sagaHostScenarios } from '../scenarios/saga-host.scenarios.ts';
import { deleteKeys, REDIS_URL, redisSkipReason, uniquePrefix } from '../helpers/redis.ts';

const skip = await redisSkipReason();
if (skip) {
  describe('saga host on Redis', () => {
    it('is skipped', { skip }, () => {});
  });
} else {
  sagaHostScenarios('Redis', async (clock) => {
    const keyPrefix = uniquePrefix('saga');
    const store = await createRedisStore({ url: REDIS_URL, keyPrefix, clock, orderRetentionMs: 60_000 });
    return {
      store,
      async cleanup() {
        await store.close();
        await deleteKeys(keyPrefix);
      },
    };
  });
}
