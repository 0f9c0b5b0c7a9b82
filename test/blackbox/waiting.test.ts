/**
 * A role never exits because a service it needs is away (rule `faults-heal`, docs/architecture.md): it listens at
 * once, answers 503 on /healthz with what it waits for, logs a line every few seconds,
 * and starts work when the service answers. Only a configuration error stops it: a bad
 * variable, or a port that is taken.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { freePort, startRedisServerOn, uniquePrefix, type RedisServer } from '../helpers/redis.ts';
import { Client, startProcess, type RunningProcess } from './client.ts';

/** Holds a loopback port the way another process would. */
async function holdPort(port = 0): Promise<Server | null> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(null));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (s: Server): number => (s.address() as { port: number }).port;
const release = (s: Server | null): Promise<void> =>
  new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));

/** Runs a role to its exit; resolves with the exit code and stderr. */
async function runToExit(env: Record<string, string>, role: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    env: { ...process.env, PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stderr };
}

const waitingLine = (service: RegExp) => (lines: readonly string[]) =>
  lines.some((l) => l.includes('"waitingFor"') && service.test(l) && l.includes('"msg":"waiting for'));

describe('black box: a port that is taken', () => {
  it('stops the api role with one line naming PORT and how to choose another (exit 2)', async () => {
    const held = (await holdPort())!;
    try {
      const { code, stderr } = await runToExit({ PORT: String(portOf(held)) }, 'api');
      assert.equal(code, 2);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(
        stderr,
        new RegExp(
          `^PORT=${portOf(held)}: 127\\.0\\.0\\.1:${portOf(held)} is already in use; set PORT to a free port \\(0 picks one\\)`,
        ),
      );
    } finally {
      await release(held);
    }
  });

  it('stops a worker role whose METRICS_PORT was set explicitly, naming METRICS_PORT (exit 2)', async () => {
    const held = (await holdPort())!;
    try {
      const { code, stderr } = await runToExit({ METRICS_PORT: String(portOf(held)) }, 'stock');
      assert.equal(code, 2);
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.match(stderr, /^METRICS_PORT=\d+: .* is already in use; set METRICS_PORT to a free port/);
    } finally {
      await release(held);
    }
  });

  it('two worker roles on one host without METRICS_PORT both come up: the default 9464 taken, the next takes a free port and says so', async () => {
    // Whoever holds 9464 (us, or another process on this host), it is taken.
    const held = await holdPort(9464);
    const roles: RunningProcess[] = [];
    try {
      for (const role of ['stock', 'payment']) roles.push(await startProcess({ METRICS_PORT: '' }, role));
      const ports = roles.map((p) => Number(new URL(p.url).port));
      assert.ok(
        ports.every((p) => p !== 9464 && p > 0),
        `${ports}`,
      );
      assert.notEqual(ports[0], ports[1]);
      for (const p of roles) {
        assert.equal((await new Client(p.url).request('GET', '/healthz')).status, 200);
        assert.ok(
          p.stdout.items.some((l) =>
            /METRICS_PORT is not set and 9464 is taken; serving \/metrics and \/healthz on \d+ instead/.test(l),
          ),
        );
      }
    } finally {
      for (const p of roles) assert.equal(await p.stop(), 0);
      await release(held);
    }
  });
});

describe('black box: a role whose broker is away', () => {
  it('does not exit: it logs that it waits, /healthz answers 503 starting, order routes 503; SIGTERM stops it cleanly', async () => {
    const closed = await freePort();
    const p = await startProcess({ BROKER: 'kafka', KAFKA_BROKERS: `127.0.0.1:${closed}` }, 'all', 'starting');
    try {
      await p.stdout.until(waitingLine(/Kafka at 127\.0\.0\.1/), 'a line saying it waits for Kafka', 30_000);
      const c = new Client(p.url);
      const health = await c.request('GET', '/healthz');
      assert.equal(health.status, 503);
      assert.deepEqual(health.body, { status: 'starting', waitingFor: ['broker'] });
      const order = await c.request('POST', '/orders', {
        body: { userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] },
      });
      assert.equal(order.status, 503);
      assert.match(order.body.error, /waiting for broker/);
      assert.equal(p.child.exitCode, null, 'still running');
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });

  it('a bad KAFKA_BROKERS is configuration, not an outage: one line, exit 2', async () => {
    const { code, stderr } = await runToExit({ BROKER: 'kafka', KAFKA_BROKERS: 'localhost' }, 'stock');
    assert.equal(code, 2);
    assert.match(stderr, /^Invalid environment variable KAFKA_BROKERS="localhost"/);
    assert.equal(stderr.trim().split('\n').length, 1);
  });
});

const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
const skipRedis = hasRedisServer ? false : 'redis-server is not installed (apt-get install redis-server)';
if (!hasRedisServer && process.env.REQUIRE_INTEGRATION === '1')
  throw new Error(`REQUIRE_INTEGRATION=1 but ${skipRedis}`);

describe('black box: a role whose Redis comes up after it started', () => {
  let redis: RedisServer | undefined;
  after(async () => redis?.stop());

  it('waits, then serves without a restart: healthz 200 and an order completes', { skip: skipRedis }, async () => {
    const port = await freePort();
    const p = await startProcess(
      { STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${port}`, KEY_PREFIX: uniquePrefix('wait'), SEED_DEMO: '1' },
      'all',
      'starting',
    );
    try {
      await p.stdout.until(waitingLine(/Redis at redis:\/\/127\.0\.0\.1/), 'a line saying it waits for Redis', 30_000);
      const c = new Client(p.url);
      assert.deepEqual((await c.request('GET', '/healthz')).body, { status: 'starting', waitingFor: ['store'] });
      assert.equal((await c.request('GET', '/products/p1')).status, 503);

      redis = await startRedisServerOn(port);
      await p.stdout.until(
        (lines) => lines.some((l) => /is up .* on http/.test(l)),
        'the role to come up once Redis answers',
        30_000,
      );
      const health = await c.request('GET', '/healthz');
      assert.equal(health.status, 200);
      assert.equal(health.body.status, 'ok');
      const orderId = await c.placeOrder('u1', [{ productId: 'p1', quantity: 1 }]);
      assert.equal((await c.awaitTerminal(orderId, 20_000)).status, 'COMPLETED');
      assert.equal(p.child.exitCode, null);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });
});
