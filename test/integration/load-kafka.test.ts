/**
 * The load generator on Kafka + Redis: a few hundred orders in-process and over HTTP
 * against `tsx src/main.ts all`. Checks the report's shape and invariants, never speed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadOptions } from '../../src/load/options.ts';
import type { Report } from '../../src/load/report.ts';
import { runLoad } from '../../src/load/run.ts';
import { startProcess, type RunningProcess } from '../blackbox/client.ts';
import { realServices, type RealServices } from '../helpers/real-services.ts';

const found = await realServices('load');

function assertKafkaReport(report: Report, mode: Report['mode'], orders: number): void {
  assert.equal(report.mode, mode);
  assert.equal(report.broker, 'kafka');
  assert.equal(report.orders, orders);
  assert.equal(report.invariants, 'ok');
  assert.equal(report.stuck, 0);
  assert.equal(report.completed + report.cancelled + report.rejected, orders);
  assert.ok(report.completed > 0);
  for (const p of ['p50', 'p95', 'p99', 'max'] as const) assert.equal(typeof report.latencyMs[p], 'number', p);
}

describe('load generator on Kafka + Redis', { skip: found.skip, timeout: 180_000 }, () => {
  let services: RealServices;
  let api: RunningProcess | undefined;
  before(() => {
    services = found.services!;
  });
  after(async () => {
    await api?.stop();
    await services.cleanup();
  });

  it('runs in-process with poor users; the invariants hold', async () => {
    const env = {
      ...services.env,
      KEY_PREFIX: `${services.env.KEY_PREFIX}in:`,
      TOPIC_PREFIX: `${services.env.TOPIC_PREFIX}in.`,
      KAFKA_GROUP_PREFIX: `${services.env.KAFKA_GROUP_PREFIX}in.`,
    };
    const report = await runLoad(
      loadOptions({ orders: 300, concurrency: 32, products: 20, users: 50, poorUsers: 0.2, seed: 5 }),
      env,
    );
    assertKafkaReport(report, 'in-process', 300);
  });

  it('runs over HTTP against all roles in one process', async () => {
    const env = {
      ...services.env,
      ADMIN_TOKEN: 'load-it-0123456789abcdef0123456789abcdef',
      KEY_PREFIX: `${services.env.KEY_PREFIX}http:`,
      TOPIC_PREFIX: `${services.env.TOPIC_PREFIX}http.`,
      KAFKA_GROUP_PREFIX: `${services.env.KAFKA_GROUP_PREFIX}http.`,
    };
    api = await startProcess(env);
    const report = await runLoad(
      loadOptions({
        orders: 300,
        concurrency: 32,
        products: 20,
        users: 50,
        seed: 6,
        target: api.url,
        adminToken: 'load-it-0123456789abcdef0123456789abcdef',
      }),
      {},
    );
    assertKafkaReport(report, 'http', 300);
  });
});
