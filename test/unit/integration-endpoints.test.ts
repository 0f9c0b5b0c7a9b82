/**
 * Where the integration tests find Kafka and Redis, with the probes replaced: the env
 * first, then the local default, then a testcontainers container when a Docker engine
 * answers, else one skip line that says how to run them (a failure under
 * REQUIRE_INTEGRATION=1). No network, no Docker: each probe is a recorded stand-in.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Started } from '../helpers/containers.ts';
import { findKafka, type KafkaProbes } from '../helpers/kafka.ts';
import { findRedis, type RedisProbes } from '../helpers/redis-endpoint.ts';

interface World {
  env?: Record<string, string>;
  local?: boolean;
  docker?: boolean;
  container?: Started | Error;
}

function probesFor(w: World, address: string): { calls: string[]; kafka: KafkaProbes; redis: RedisProbes } {
  const calls: string[] = [];
  const common = {
    env: w.env ?? {},
    dockerAnswers: async () => (calls.push('docker'), w.docker ?? false),
    startContainer: async () => {
      calls.push('container');
      if (w.container instanceof Error) throw w.container;
      return w.container ?? { address, stop: async () => {} };
    },
  };
  return {
    calls,
    kafka: { ...common, answers: async (hostPort) => (calls.push(`probe ${hostPort}`), w.local ?? false) },
    redis: {
      ...common,
      ping: async (url) => {
        calls.push(`probe ${url}`);
        if (!w.local) throw new Error('ECONNREFUSED');
      },
    },
  };
}

describe('integration endpoints: Kafka', () => {
  it('takes KAFKA_BROKERS as given, probing nothing', async () => {
    const p = probesFor({ env: { KAFKA_BROKERS: 'a:1, b:2' } }, '');
    const found = await findKafka(p.kafka);
    assert.deepEqual(found.endpoint?.brokers, ['a:1', 'b:2']);
    assert.deepEqual(p.calls, []);
  });

  it('uses 127.0.0.1:9092 when it answers, without asking for Docker', async () => {
    const p = probesFor({ local: true, docker: true }, '');
    assert.deepEqual((await findKafka(p.kafka)).endpoint?.brokers, ['127.0.0.1:9092']);
    assert.deepEqual(p.calls, ['probe 127.0.0.1:9092']);
  });

  it('starts a container when nothing local answers and a Docker engine does, and stops it through the endpoint', async () => {
    let stopped = false;
    const p = probesFor(
      { docker: true, container: { address: 'docker:32768', stop: async () => void (stopped = true) } },
      '',
    );
    const found = await findKafka(p.kafka);
    assert.deepEqual(found.endpoint?.brokers, ['docker:32768']);
    assert.deepEqual(p.calls, ['probe 127.0.0.1:9092', 'docker', 'container']);
    await found.endpoint?.stop();
    assert.equal(stopped, true);
  });

  it('skips with one line saying how to run the tests when there is neither Kafka nor Docker', async () => {
    const found = await findKafka(probesFor({}, '').kafka);
    assert.equal(found.endpoint, undefined);
    assert.match(
      found.skip ?? '',
      /^Kafka integration tests skipped: no Kafka at 127\.0\.0\.1:9092 and no Docker engine answers; /,
    );
    assert.match(found.skip ?? '', /scripts\/kafka-local\.sh start/);
    assert.match(found.skip ?? '', /KAFKA_BROKERS/);
    assert.doesNotMatch(found.skip ?? '', /\n/);
  });

  it('names a container that would not start in the skip line', async () => {
    const found = await findKafka(probesFor({ docker: true, container: new Error('pull access denied') }, '').kafka);
    assert.match(found.skip ?? '', /a Kafka container did not start \(pull access denied\)/);
  });

  it('fails instead of skipping under REQUIRE_INTEGRATION=1', async () => {
    await assert.rejects(
      findKafka(probesFor({ env: { REQUIRE_INTEGRATION: '1' } }, '').kafka),
      /^Error: REQUIRE_INTEGRATION=1 but no Kafka at/,
    );
  });
});

describe('integration endpoints: Redis', () => {
  it('uses redis://127.0.0.1:6379 when it answers, without asking for Docker', async () => {
    const p = probesFor({ local: true, docker: true }, '');
    assert.deepEqual(await findRedis(p.redis), { url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(p.calls, ['probe redis://127.0.0.1:6379']);
  });

  it('starts a container when the default does not answer and a Docker engine does', async () => {
    const p = probesFor({ docker: true }, 'redis://docker:32769');
    assert.deepEqual(await findRedis(p.redis), { url: 'redis://docker:32769' });
    assert.deepEqual(p.calls, ['probe redis://127.0.0.1:6379', 'docker', 'container']);
  });

  it('does not replace a REDIS_URL someone chose by a container: it skips, naming that URL', async () => {
    const p = probesFor({ env: { REDIS_URL: 'redis://elsewhere:6380' }, docker: true }, '');
    const found = await findRedis(p.redis);
    assert.match(found.skip ?? '', /^Redis not reachable at redis:\/\/elsewhere:6380: start one .*set REDIS_URL/);
    assert.deepEqual(p.calls, ['probe redis://elsewhere:6380']);
  });

  it('skips with one line when there is neither Redis nor Docker, and fails instead under REQUIRE_INTEGRATION=1', async () => {
    const found = await findRedis(probesFor({}, '').redis);
    assert.match(
      found.skip ?? '',
      /^Redis not reachable at redis:\/\/127\.0\.0\.1:6379: .*Docker engine \(testcontainers\)/,
    );
    assert.doesNotMatch(found.skip ?? '', /\n/);
    await assert.rejects(
      findRedis(probesFor({ env: { REQUIRE_INTEGRATION: '1' } }, '').redis),
      /^Error: REQUIRE_INTEGRATION=1 but Redis not reachable/,
    );
  });
});
