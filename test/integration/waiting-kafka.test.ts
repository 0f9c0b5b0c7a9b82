/**
 * A role started while Kafka is down waits for it and goes to work when it comes up,
 * without a restart: a separate throwaway broker (scripts/kafka-local.sh on its own port
 * and data folder) is started only after the role, and stopped at the end.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, startProcess, type RunningProcess } from '../blackbox/client.ts';
import { ownKafkaSkip, portPair } from '../helpers/own-kafka.ts';
import { deleteKeys, REDIS_URL } from '../helpers/redis.ts';

const skip = await ownKafkaSkip();

/** Runs scripts/kafka-local.sh <command> against this test's own broker; resolves with its exit code. */
async function kafkaLocal(command: 'start' | 'stop', env: Record<string, string>): Promise<number | null> {
  const child = spawn('scripts/kafka-local.sh', [command], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('black box: a role whose Kafka comes up after it started', { skip }, () => {
  const data = mkdtempSync(join(tmpdir(), 'waiting-kafka-'));
  const id = `wk${process.pid}`;
  let kafkaEnv: Record<string, string> | undefined;
  let role: RunningProcess | undefined;
  after(async () => {
    await role?.stop();
    if (kafkaEnv) await kafkaLocal('stop', kafkaEnv);
    rmSync(data, { recursive: true, force: true });
    await deleteKeys(`${id}:`).catch(() => undefined);
  });

  it('waits (healthz 503 starting), then joins and completes an order once the broker is up', async () => {
    const port = await portPair();
    role = await startProcess(
      {
        BROKER: 'kafka',
        STORE: 'redis',
        KAFKA_BROKERS: `127.0.0.1:${port}`,
        REDIS_URL,
        KAFKA_PARTITIONS: '2',
        TOPIC_PREFIX: `${id}.`,
        KAFKA_GROUP_PREFIX: `${id}.`,
        KEY_PREFIX: `${id}:`,
        SEED_DEMO: '1',
      },
      'all',
      'starting',
    );
    await role.stdout.until(
      (lines) => lines.some((l) => l.includes('"msg":"waiting for the broker (Kafka at 127.0.0.1')),
      'a line saying it waits for Kafka',
      30_000,
    );
    const c = new Client(role.url);
    assert.deepEqual((await c.request('GET', '/healthz')).body, { status: 'starting', waitingFor: ['broker'] });

    kafkaEnv = { KAFKA_PORT: String(port), KAFKA_LOCAL_DATA: data };
    assert.equal(await kafkaLocal('start', kafkaEnv), 0, 'the throwaway broker started');
    await role.stdout.until(
      (lines) => lines.some((l) => /is up .* on http/.test(l)),
      'the role to come up once Kafka answers',
      120_000,
    );
    const health = await c.request('GET', '/healthz');
    assert.equal(health.status, 200);
    const orderId = await c.placeOrder('u1', [{ productId: 'p1', quantity: 1 }]);
    assert.equal((await c.awaitTerminal(orderId, 60_000)).status, 'COMPLETED');
    assert.equal(role.child.exitCode, null, 'the same process all along');
  });
});
