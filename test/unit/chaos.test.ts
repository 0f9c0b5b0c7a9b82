/**
 * The chaos command's pure parts: its options, and what it reads off the load generator's
 * trace (orders in flight when the fault hit, the normal p99, when the p99 came back).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  inFlightAt,
  inFlightDuring,
  p99,
  p99Before,
  parseTrace,
  recoverySec,
  type TracedOrder,
} from '../../src/chaos/analysis.ts';
import { roleEnv, workerKinds } from '../../src/chaos/cluster.ts';
import { FaultNames, parseChaosArgs } from '../../src/chaos/options.ts';
import { ephemeralFloor, isFree, restartablePort } from '../../src/chaos/ports.ts';
import { loadConfig } from '../../src/config.ts';
import { UsageError } from '../../src/load/options.ts';

/** One order every 10 ms for `seconds` from `from`, each taking `latency(start)` ms. */
function steady(from: number, seconds: number, latency: (start: number) => number): TracedOrder[] {
  const out: TracedOrder[] = [];
  for (let t = from; t < from + seconds * 1000; t += 10)
    out.push({ start: t, latencyMs: latency(t), status: 'COMPLETED' });
  return out;
}

describe('chaos options', () => {
  it('expands all to every fault and keeps the defaults', () => {
    const parsed = parseChaosArgs(['--seed', '7']);
    assert.equal(parsed.help, false);
    if (parsed.help) return;
    assert.deepEqual(parsed.options.faults, [...FaultNames]);
    assert.equal(parsed.options.seed, 7);
    assert.equal(parsed.options.stepTimeoutMs, 30_000);
    assert.equal(parsed.options.layout, 'per-role');
  });

  it('runs the workers in a process per role, or in processes of every worker role (one group)', () => {
    const parsed = parseChaosArgs(['--layout', 'one-group']);
    assert.ok(!parsed.help);
    if (parsed.help) return;
    assert.equal(parsed.options.layout, 'one-group');
    assert.deepEqual(workerKinds('one-group'), ['stock,order,payment']);
    assert.deepEqual(workerKinds('per-role'), ['stock', 'payment', 'order']);
    assert.throws(
      () => parseChaosArgs(['--layout', 'mixed']),
      (err: unknown) => err instanceof UsageError && /--layout "mixed"/.test(err.message),
    );
  });

  it('takes a list of faults, --quick, and refuses an unknown fault with one line', () => {
    const parsed = parseChaosArgs(['--fault', 'term,kafka', '--quick', '--rate=40']);
    assert.ok(!parsed.help);
    if (parsed.help) return;
    assert.deepEqual(parsed.options.faults, ['term', 'kafka']);
    assert.equal(parsed.options.rate, 40);
    assert.equal(parsed.options.quick, true);
    assert.throws(
      () => parseChaosArgs(['--fault', 'meteor']),
      (err: unknown) => err instanceof UsageError && /--fault "meteor"/.test(err.message),
    );
    assert.throws(() => parseChaosArgs(['--orders', 'many']), UsageError);
    assert.deepEqual(parseChaosArgs(['--help']), { help: true });
  });
});

describe('chaos analysis', () => {
  it('reads the trace as absolute POST times', () => {
    const rows = parseTrace('seq,startMs,latencyMs,status\n0,0.0,12.5,COMPLETED\n1,10.0,20.00,CANCELLED\n', 1_000);
    assert.deepEqual(rows, [
      { start: 1_000, latencyMs: 12.5, status: 'COMPLETED' },
      { start: 1_010, latencyMs: 20, status: 'CANCELLED' },
    ]);
  });

  it('counts the orders in flight at an instant and over the fault, and takes p99s', () => {
    const orders = steady(0, 1, () => 55); // 100 orders, each 55 ms: about 5 or 6 in flight at any time
    assert.equal(inFlightAt(orders, 500), 6);
    // From 500 to 800 ms: the 6 in flight at 500 and the 30 placed after it, up to 800 included.
    assert.equal(inFlightDuring(orders, 500, 800), 36);
    assert.equal(inFlightDuring(orders, 2_000, 3_000), 0, 'none after the last order ended');
    assert.equal(p99([5, 1, 3, 2, 4]), 5);
    assert.equal(p99([]), 0);
    assert.equal(p99Before([...steady(0, 10, () => 20), ...steady(10_000, 1, () => 900)], 10_000), 20);
  });

  it('says 0 when the p99 never left normal, the seconds after healing when it came back, null when it never did', () => {
    const normal = 20;
    const calm = steady(0, 60, () => normal);
    assert.equal(recoverySec(calm, 20_000, 25_000, normal), 0);
    // Slow from the hit until 10 s after it heals, calm after.
    const bumpy = steady(0, 60, (t) => (t >= 20_000 && t < 35_000 ? 5_000 : normal));
    const back = recoverySec(bumpy, 20_000, 25_000, normal);
    assert.ok(back !== null && back >= 9 && back <= 11, `back after ${back} s`);
    const never = steady(0, 60, (t) => (t >= 20_000 ? 5_000 : normal));
    assert.equal(recoverySec(never, 20_000, 25_000, normal), null);
  });

  it('does not call a lone slow order a trend', () => {
    const normal = 20;
    const orders = steady(0, 60, (t) => (t === 40_000 ? 3_000 : normal));
    assert.equal(recoverySec(orders, 20_000, 25_000, normal), 0);
  });
});

describe('chaos role processes', () => {
  it('run with user authentication off even when the parent has it on: the load generator sends no tokens', () => {
    const spec = {
      prefix: 'chaos-t',
      kafkaBrokers: '127.0.0.1:9092',
      redisUrl: 'redis://127.0.0.1:6379',
      partitions: 6,
      stepTimeoutMs: 30_000,
      adminToken: 'a'.repeat(32),
      logDir: '/tmp/unused',
      copies: 1,
      layout: 'per-role' as const,
    };
    const parent = {
      AUTH_JWKS_URL: 'https://issuer.example/jwks',
      AUTH_ISSUER: 'https://issuer.example',
      AUTH_AUDIENCE: 'orders-api',
    };
    assert.equal(loadConfig(roleEnv(spec, parent)).userAuth, null);
    assert.equal(loadConfig(roleEnv(spec, { AUTH_JWT_SECRET: 's'.repeat(32) })).userAuth, null);
  });
});

describe('ports for restarted services', () => {
  it("reads the kernel's ephemeral floor, and falls back to 32768 on a missing or odd file", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ports-'));
    try {
      const file = join(dir, 'range');
      writeFileSync(file, '40000\t60999\n');
      assert.equal(ephemeralFloor(file), 40_000);
      writeFileSync(file, '1024 60999\n');
      assert.equal(ephemeralFloor(file), 32_768, 'a floor under the ports we hand out');
      assert.equal(ephemeralFloor(join(dir, 'none')), 32_768);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('hands out free ports below the ephemeral range, with the asked span free', async () => {
    const floor = ephemeralFloor();
    for (let i = 0; i < 20; i++) {
      const port = await restartablePort(2);
      assert.ok(port >= 10_000 && port + 1 < floor, `${port} is below ${floor}`);
      assert.ok((await isFree(port)) && (await isFree(port + 1)));
    }
  });
});
