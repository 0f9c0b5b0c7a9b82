import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { loadConfig, noFaults } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';

describe('config', () => {
  it('has the contract’s defaults', () => {
    const c = loadConfig({});
    assert.equal(c.broker, 'memory');
    assert.equal(c.store, 'memory');
    assert.deepEqual(c.kafkaBrokers, ['127.0.0.1:9092']);
    assert.equal(c.kafkaPartitions, 6);
    assert.equal(c.kafkaGroupPrefix, '');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(c.redlockUrls, ['redis://127.0.0.1:6379']);
    assert.equal(c.port, 3000);
    assert.equal(c.metricsPort, 9464);
    assert.equal(c.topicPrefix, '');
    assert.equal(c.keyPrefix, '');
    assert.equal(c.rateLimitPerSec, 0);
    assert.equal(c.httpRequestTimeoutMs, 10_000);
    assert.equal(c.maxWaitsPerClient, 16);
    assert.equal(c.adminToken, undefined);
    assert.equal(c.userAuth, null, 'users are not authenticated unless told');
    assert.deepEqual(c.kafkaSecurity, { ssl: false, caFile: null, sasl: null });
    assert.equal(c.stepTimeoutMs, 30_000);
    assert.equal(c.maxInFlight, 21_000, '700 orders/s measured x 30 s');
    assert.equal(c.orderRetentionMs, 604_800_000);
    assert.equal(c.seedDemo, true, 'embedded default seeds the demo');
    assert.equal(c.memoryFaults, null);
    assert.equal(c.inspect, false);
    assert.equal(c.logLevel, 'info');
  });

  it('seeds the demo only on the embedded default unless told', () => {
    assert.equal(loadConfig({ BROKER: 'kafka', STORE: 'redis' }).seedDemo, false);
    assert.equal(loadConfig({ BROKER: 'kafka', STORE: 'redis', SEED_DEMO: '1' }).seedDemo, true);
    assert.equal(loadConfig({ SEED_DEMO: '0' }).seedDemo, false);
  });

  it('reads lists, prefixes and fault settings', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'a:1, b.local:9093',
      REDIS_URL: 'redis://r:6380',
      REDLOCK_URLS: 'redis://a:1,redis://b:2,redis://c:3',
      MEMORY_FAULTS: 'dup=0.05,crash=0.01,reorder=0.1,pubfail=0.01,partial=0.02,zombie=0.03,span=0.04,seed=7',
      TOPIC_PREFIX: 'run42.',
    });
    assert.deepEqual(c.kafkaBrokers, ['a:1', 'b.local:9093']);
    assert.deepEqual(c.redlockUrls, ['redis://a:1', 'redis://b:2', 'redis://c:3']);
    assert.deepEqual(c.memoryFaults, {
      dup: 0.05,
      crash: 0.01,
      reorder: 0.1,
      pubfail: 0.01,
      partial: 0.02,
      zombie: 0.03,
      span: 0.04,
      seed: 7,
    });
    assert.deepEqual(loadConfig({ MEMORY_FAULTS: 'zombie=0.5' }).memoryFaults, { ...noFaults(), zombie: 0.5 });
    assert.equal(c.topicPrefix, 'run42.');
    assert.deepEqual(
      loadConfig({ REDIS_URL: 'redis://r:6380' }).redlockUrls,
      ['redis://r:6380'],
      'REDLOCK_URLS defaults to REDIS_URL',
    );
  });

  it('reads MAX_IN_FLIGHT (0 is off); its default follows STEP_TIMEOUT_MS', () => {
    assert.equal(loadConfig({ MAX_IN_FLIGHT: '0' }).maxInFlight, 0);
    assert.equal(loadConfig({ MAX_IN_FLIGHT: '250' }).maxInFlight, 250);
    assert.equal(loadConfig({ STEP_TIMEOUT_MS: '2000' }).maxInFlight, 1_400);
    assert.equal(loadConfig({ STEP_TIMEOUT_MS: '1' }).maxInFlight, 1);
  });

  const bad: [string, string][] = [
    ['BROKER', 'rabbit'],
    ['STORE', 'postgres'],
    ['KAFKA_BROKERS', 'localhost'],
    ['KAFKA_PARTITIONS', '0'],
    ['KAFKA_GROUP_PREFIX', 'has space'],
    ['REDIS_URL', 'http://x'],
    ['REDLOCK_URLS', 'redis://a:1,nope'],
    ['ADMIN_TOKEN', 'short'],
    ['KAFKA_SSL', 'on'],
    ['KAFKA_SASL_MECHANISM', 'kerberos'],
    ['PORT', '70000'],
    ['PORT', '3.5'],
    ['METRICS_PORT', '-1'],
    ['TOPIC_PREFIX', 'a/b'],
    ['KEY_PREFIX', '{x}'],
    ['RATE_LIMIT_PER_SEC', 'fast'],
    ['HTTP_REQUEST_TIMEOUT_MS', '0'],
    ['HTTP_REQUEST_TIMEOUT_MS', '10s'],
    ['MAX_WAITS_PER_CLIENT', '-1'],
    ['MAX_WAITS_PER_CLIENT', 'many'],
    ['STEP_TIMEOUT_MS', '0'],
    ['MAX_IN_FLIGHT', '-1'],
    ['MAX_IN_FLIGHT', '1.5'],
    ['MAX_IN_FLIGHT', 'lots'],
    ['ORDER_RETENTION_MS', 'forever'],
    ['ORDER_RETENTION_MS', '299999'], // under 10 x the default STEP_TIMEOUT_MS
    ['SEED_DEMO', 'yes'],
    ['MEMORY_FAULTS', 'dup=2'],
    ['MEMORY_FAULTS', 'chaos=0.1'],
    ['MEMORY_FAULTS', 'span=1'],
    ['MEMORY_FAULTS', 'partial='],
    ['INSPECT', '2'],
    ['LOG_LEVEL', 'loud'],
    ['AUTH_JWT_SECRET', 'short-secret'],
    ['AUTH_JWT_SECRET', 'x'.repeat(31)],
    ['AUTH_JWKS_URL', 'not a url'],
    ['AUTH_JWKS_URL', 'ftp://keys.example/jwks.json'],
    ['AUTH_ISSUER', 'https://issuer.example'], // without AUTH_JWKS_URL or AUTH_JWT_SECRET
    ['AUTH_AUDIENCE', 'orders-api'],
  ];
  for (const [name, value] of bad) {
    it(`refuses ${name}=${value} with one line naming it`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.code === 'INVALID_CONFIG' &&
          err.message.includes(name) &&
          !err.message.includes('\n'),
      );
    });
  }

  it('reads user authentication: an HS256 secret, or a JWKS URL with optional issuer and audience', () => {
    const secret = 's'.repeat(32);
    assert.deepEqual(loadConfig({ AUTH_JWT_SECRET: secret }).userAuth, {
      kind: 'secret',
      secret,
      issuer: undefined,
      audience: undefined,
    });
    // 32 bytes, not 32 characters: 16 two-byte characters are enough.
    assert.equal(loadConfig({ AUTH_JWT_SECRET: 'é'.repeat(16) }).userAuth?.kind, 'secret');
    assert.deepEqual(
      loadConfig({
        AUTH_JWKS_URL: 'https://issuer.example/.well-known/jwks.json',
        AUTH_ISSUER: 'https://issuer.example',
        AUTH_AUDIENCE: 'orders-api',
      }).userAuth,
      {
        kind: 'jwks',
        jwksUrl: 'https://issuer.example/.well-known/jwks.json',
        issuer: 'https://issuer.example',
        audience: 'orders-api',
      },
    );
    assert.equal(loadConfig({ AUTH_JWKS_URL: 'http://127.0.0.1:8080/jwks' }).userAuth?.kind, 'jwks');
  });

  it('refuses AUTH_JWT_SECRET and AUTH_JWKS_URL together, in one line naming the variable', () => {
    assert.throws(
      () => loadConfig({ AUTH_JWT_SECRET: 's'.repeat(32), AUTH_JWKS_URL: 'https://issuer.example/jwks' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /^Invalid environment variable AUTH_JWKS_URL: AUTH_JWT_SECRET is set too/.test(err.message) &&
        !err.message.includes('\n'),
    );
  });

  it('never shows the secret in its refusal of a short AUTH_JWT_SECRET', () => {
    assert.throws(
      () => loadConfig({ AUTH_JWT_SECRET: 'hunter2-hunter2' }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message ===
          'Invalid environment variable AUTH_JWT_SECRET (value hidden, 15 bytes): expected at least 32 bytes',
    );
  });

  it('keeps ORDER_RETENTION_MS at least 10 x STEP_TIMEOUT_MS, naming ORDER_RETENTION_MS', () => {
    assert.equal(loadConfig({ ORDER_RETENTION_MS: '300000' }).orderRetentionMs, 300_000);
    assert.equal(loadConfig({ STEP_TIMEOUT_MS: '1500', ORDER_RETENTION_MS: '15000' }).orderRetentionMs, 15_000);
    const refused = (env: Record<string, string>, message: RegExp) =>
      assert.throws(
        () => loadConfig(env),
        (err: unknown) => err instanceof ConfigError && message.test(err.message) && !err.message.includes('\n'),
      );
    refused(
      { STEP_TIMEOUT_MS: '1500', ORDER_RETENTION_MS: '14999' },
      /^Invalid environment variable ORDER_RETENTION_MS="14999": expected at least 10 x STEP_TIMEOUT_MS \(15000\)$/,
    );
    // A long step timeout alone can make the default retention too short: still named.
    refused({ STEP_TIMEOUT_MS: '86400000' }, /ORDER_RETENTION_MS="604800000 \(the default\)".*864000000/);
  });

  it('stops start-up with one line on stderr naming the variable', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'all'], {
      env: { ...process.env, PORT: 'abc' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(res.status, 0);
    const lines = res.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `expected one line, got: ${res.stderr}`);
    assert.match(lines[0]!, /PORT/);
  });

  it('refuses an unknown role with one line', () => {
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'cashier'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(res.status, 0);
    assert.match(res.stderr.trim(), /^Unknown role "cashier"/);
  });

  it('refuses an unknown or repeated role in a list of roles with one line', () => {
    for (const [arg, line] of [
      ['stock,cashier', /^Unknown role "cashier"/],
      ['stock,order,stock', /^A role is named twice in "stock,order,stock"/],
    ] as const) {
      const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', arg], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.notEqual(res.status, 0);
      assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
      assert.match(res.stderr.trim(), line);
    }
  });
});
