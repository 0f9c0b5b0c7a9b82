/**
 * The same black-box suite the embedded default passes, against Kafka + Redis: once with
 * every role in one process, once with the four roles as four separate tsx processes.
 */
import { describe, it } from 'node:test';
import { Client, startProcess, type RunningProcess } from '../blackbox/client.ts';
import { httpApiSuite } from '../blackbox/http-api.suite.ts';
import { realServices } from '../helpers/real-services.ts';

const ADMIN_TOKEN = 'it-secret-0123456789abcdef0123456789';
const found = await realServices('bb');

if (!found.services) {
  describe('black box on Kafka + Redis', () => {
    it('is skipped', { skip: found.skip }, () => {});
  });
} else {
  const { env, cleanup } = found.services;

  httpApiSuite('Kafka + Redis, all roles in one process', async () => {
    const p = await startProcess({
      ...env,
      ADMIN_TOKEN,
      KEY_PREFIX: `${env.KEY_PREFIX}all:`,
      TOPIC_PREFIX: `${env.TOPIC_PREFIX}all.`,
    });
    return { client: new Client(p.url, ADMIN_TOKEN), faulty: false, stop: async () => void (await p.stop()) };
  });

  httpApiSuite('Kafka + Redis, four separate processes', async () => {
    const split = {
      ...env,
      ADMIN_TOKEN,
      KEY_PREFIX: `${env.KEY_PREFIX}split:`,
      TOPIC_PREFIX: `${env.TOPIC_PREFIX}split.`,
      KAFKA_GROUP_PREFIX: `${env.KAFKA_GROUP_PREFIX}split.`,
    };
    const workers: RunningProcess[] = await Promise.all(
      ['stock', 'order', 'payment'].map((role) => startProcess(split, role)),
    );
    const api = await startProcess(split, 'api');
    return {
      client: new Client(api.url, ADMIN_TOKEN),
      faulty: false,
      async stop() {
        await Promise.all([api, ...workers].map((p) => p.stop()));
        await cleanup();
      },
    };
  });
}
