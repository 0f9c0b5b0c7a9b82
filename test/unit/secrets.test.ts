/**
 * Secrets stay secret: ADMIN_TOKEN long enough, config errors and log lines never show a
 * password or token, and Kafka's TLS and SASL reach kafkajs from the environment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { clientConfig } from '../../adapters/broker/kafka/client.ts';
import { defaultClientTuning } from '../../adapters/broker/kafka/options.ts';
import { lockOptions, mainOptions, open } from '../../adapters/store/redis/connection.ts';
import { loadConfig, maskCredentials, MIN_ADMIN_TOKEN_LENGTH } from '../../src/config.ts';
import { ConfigError } from '../../src/errors.ts';
import { createLogger, silentLogger } from '../../src/log.ts';

const TOKEN = 'a'.repeat(MIN_ADMIN_TOKEN_LENGTH);

/** The ConfigError loadConfig throws for env (fails the test when it does not throw one). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

describe('ADMIN_TOKEN', () => {
  it('takes a token of 32 characters or more', () => {
    assert.equal(loadConfig({ ADMIN_TOKEN: TOKEN }).adminToken, TOKEN);
    assert.equal(loadConfig({}).adminToken, undefined);
  });

  it('refuses a shorter one with one line that names it and does not show it', () => {
    const short = 'change-me-please-0123456789abcd';
    assert.equal(short.length, 31);
    const err = configError({ ADMIN_TOKEN: short });
    assert.match(err.message, /ADMIN_TOKEN/);
    assert.match(err.message, /at least 32 characters, got 31/);
    assert.ok(!err.message.includes(short));
  });
});

describe('config errors never show a password', () => {
  it('masks the password of every URL, parsable or not', () => {
    assert.equal(maskCredentials('redis://u:p4ss@h:6379/0'), 'redis://u:***@h:6379/0');
    assert.equal(maskCredentials('rediss://:p4ss@h'), 'rediss://:***@h');
    assert.equal(maskCredentials('redis://token-only@h'), 'redis://***@h');
    assert.equal(maskCredentials('redis://u:p@ss,w0rd@h,redis://v:q@h2'), 'redis://u:***@h,redis://v:***@h2');
    assert.equal(maskCredentials('u:p4ss@h:6379'), '***@h:6379');
    assert.equal(maskCredentials('redis://h:1,redis://h:2'), 'redis://h:1,redis://h:2');
  });

  for (const name of ['REDIS_URL', 'REDLOCK_URLS']) {
    it(`a bad ${name} is named with its passwords masked`, () => {
      const err = configError({ [name]: 'redis://admin:hunter2-secret@a:1,http://bob:pa55word@b:2' });
      assert.match(err.message, new RegExp(name));
      assert.match(err.message, /admin:\*\*\*@a:1/);
      assert.ok(!/hunter2|pa55word/.test(err.message), err.message);
    });
  }

  it('a SASL password missing its mechanism is named, not shown', () => {
    const err = configError({ KAFKA_SASL_PASSWORD: 'sup3r-s3cret' });
    assert.match(err.message, /KAFKA_SASL_PASSWORD/);
    assert.ok(!err.message.includes('sup3r-s3cret'));
  });
});

describe('Kafka TLS and SASL from the environment', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-ca-'));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

  it('is plaintext without SASL by default', () => {
    assert.deepEqual(loadConfig({}).kafkaSecurity, { ssl: false, caFile: null, sasl: null });
  });

  it('reads KAFKA_SSL, KAFKA_SSL_CA_FILE (TLS on by itself) and KAFKA_SASL_*', () => {
    assert.deepEqual(loadConfig({ KAFKA_SSL: '1' }).kafkaSecurity, { ssl: true, caFile: null, sasl: null });
    assert.deepEqual(loadConfig({ KAFKA_SSL_CA_FILE: caFile }).kafkaSecurity, { ssl: true, caFile, sasl: null });
    for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const)
      assert.deepEqual(
        loadConfig({ KAFKA_SASL_MECHANISM: mechanism, KAFKA_SASL_USERNAME: 'svc', KAFKA_SASL_PASSWORD: ' pw ' })
          .kafkaSecurity.sasl,
        { mechanism, username: 'svc', password: ' pw ' },
      );
  });

  const bad: [Record<string, string>, string][] = [
    [{ KAFKA_SSL: 'yes' }, 'KAFKA_SSL'],
    [{ KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') }, 'KAFKA_SSL_CA_FILE'],
    [{ KAFKA_SSL_CA_FILE: caFile, KAFKA_SSL: '0' }, 'KAFKA_SSL'],
    [{ KAFKA_SASL_MECHANISM: 'gssapi', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_MECHANISM'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: 'p' }, 'KAFKA_SASL_USERNAME'],
    [{ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_PASSWORD'],
    [{ KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_MECHANISM'],
  ];
  for (const [env, name] of bad)
    it(`refuses ${JSON.stringify(env)} naming ${name}`, () => {
      assert.match(configError(env).message, new RegExp(`variable ${name}\\b`));
    });

  it('hands kafkajs ssl (with the CA file read) and sasl', () => {
    const security = loadConfig({
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'svc',
      KAFKA_SASL_PASSWORD: 'pw',
    }).kafkaSecurity;
    const c = clientConfig({ brokers: ['k:9093'], partitions: 1, security }, defaultClientTuning, silentLogger);
    assert.deepEqual(c.brokers, ['k:9093']);
    assert.deepEqual(c.ssl, { ca: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] });
    assert.deepEqual(c.sasl, { mechanism: 'scram-sha-512', username: 'svc', password: 'pw' });
    const tlsOnly = clientConfig(
      { brokers: ['k:9093'], partitions: 1, security: loadConfig({ KAFKA_SSL: '1' }).kafkaSecurity },
      defaultClientTuning,
      silentLogger,
    );
    assert.equal(tlsOnly.ssl, true, 'the system CAs');
    assert.equal(tlsOnly.sasl, undefined);
    const plain = clientConfig({ brokers: ['k:9092'], partitions: 1 }, defaultClientTuning, silentLogger);
    assert.equal(plain.ssl, undefined);
    assert.equal(plain.sasl, undefined);
  });
});

describe('Redis TLS and AUTH from the URL', () => {
  // What the docs promise of REDIS_URL / REDLOCK_URLS, checked on the clients the store builds (none connects).
  it('rediss:// turns TLS on, and the URL carries the password and ACL user', () => {
    const tls = open('rediss://:pw-1@redis.example:6380', mainOptions);
    assert.ok(tls.options.tls, 'TLS on');
    assert.equal(tls.options.password, 'pw-1');
    assert.equal(tls.options.port, 6380);
    const acl = open('redis://svc:p%40ss@redis.example:6379', lockOptions);
    assert.equal(acl.options.tls, undefined, 'no TLS for redis://');
    assert.equal(acl.options.username, 'svc');
    assert.equal(acl.options.password, 'p@ss');
    tls.disconnect();
    acl.disconnect();
  });
});

describe('log lines', () => {
  it('redact authorization headers, tokens and passwords, and mask Redis URLs', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger('info', 'redaction-test', sink);
    logger.info(
      {
        req: { headers: { authorization: 'Bearer tok-AAAA', host: 'h' } },
        headers: { authorization: 'Bearer tok-BBBB' },
        adminToken: 'tok-CCCC',
        config: {
          adminToken: 'tok-DDDD',
          redisUrl: 'redis://u:pw-EEEE@r:6379',
          redlockUrls: ['redis://:pw-FFFF@a:1', 'redis://b:2'],
          kafkaSecurity: { sasl: { mechanism: 'plain', username: 'svc', password: 'pw-GGGG' } },
        },
        password: 'pw-HHHH',
        token: 'tok-IIII',
      },
      'secrets inside',
    );
    const text = lines.join('');
    assert.ok(!/tok-|pw-/.test(text), text);
    const line = JSON.parse(text) as Record<string, any>;
    assert.equal(line.req.headers.authorization, '[REDACTED]');
    assert.equal(line.req.headers.host, 'h');
    assert.equal(line.config.redisUrl, 'redis://u:***@r:6379');
    assert.deepEqual(line.config.redlockUrls, ['redis://:***@a:1', 'redis://b:2']);
    assert.equal(line.config.kafkaSecurity.sasl.username, 'svc');
    assert.equal(line.msg, 'secrets inside');
  });
});
