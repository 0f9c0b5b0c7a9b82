/**
 * The load generator: a few hundred orders in-process (runLoad called directly) and over
 * HTTP against `tsx src/main.ts all` (once through runLoad, once as `npm run load`, whose
 * last stdout line must be the report). Checks the report's shape, that the invariants
 * hold and nothing is stuck; never the speed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planCatalogue } from '../../src/load/catalogue.ts';
import { checkInvariants } from '../../src/load/invariants.ts';
import { Latency } from '../../src/load/latency.ts';
import { loadOptions, parseArgs, UsageError } from '../../src/load/options.ts';
import type { Report } from '../../src/load/report.ts';
import type { Driver, Terminal } from '../../src/load/driver.ts';
import { exitCode } from '../../src/load/report.ts';
import { intakeOf, runLoad, runWithDriver } from '../../src/load/run.ts';
import { planOrders } from '../../src/load/workload.ts';
import { seededRng } from '../../src/random.ts';
import { startProcess, type RunningProcess } from '../blackbox/client.ts';

const ADMIN_TOKEN = 'load-secret-0123456789abcdef01234567';

function assertReport(report: Report, mode: Report['mode'], orders: number): void {
  assert.equal(report.mode, mode);
  assert.equal(report.broker, 'memory');
  assert.equal(report.orders, orders);
  for (const field of [
    'completed',
    'cancelled',
    'rejected',
    'stuck',
    'elapsedMs',
    'ordersPerSec',
    'rssMB',
    'heapMB',
    'seed',
  ] as const) {
    assert.equal(typeof report[field], 'number', field);
    assert.ok(Number.isFinite(report[field]) && report[field] >= 0, `${field} = ${report[field]}`);
  }
  for (const p of ['p50', 'p95', 'p99', 'max'] as const) assert.equal(typeof report.latencyMs[p], 'number', p);
  assert.ok(report.latencyMs.p50 <= report.latencyMs.p99 && report.latencyMs.p99 <= report.latencyMs.max);
  assert.equal(report.invariants, 'ok');
  assert.equal(report.stuck, 0);
  assert.equal(report.errors, 0);
  assert.equal(report.completed + report.cancelled + report.rejected, orders);
  assert.ok(report.completed > 0);
}

/** Runs `npm run -s load -- args`; resolves with the exit code and the output. */
async function npmLoad(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('npm', ['run', '-s', 'load', '--', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('load generator: options', () => {
  it('parses options, fills defaults and rejects bad ones with one line', () => {
    const parsed = parseArgs(
      ['--orders', '500', '--skew=zipf', '--poor-users', '0.2', '--seed', '9', '--target', 'http://127.0.0.1:3000'],
      {
        ADMIN_TOKEN: 't',
      },
    );
    assert.equal(parsed.help, false);
    if (parsed.help) return;
    assert.equal(parsed.options.orders, 500);
    assert.equal(parsed.options.skew, 'zipf');
    assert.equal(parsed.options.poorUsers, 0.2);
    assert.equal(parsed.options.seed, 9);
    assert.equal(parsed.options.target, 'http://127.0.0.1:3000');
    assert.equal(parsed.options.concurrency, 64);
    assert.equal(parsed.options.adminToken, 't');
    assert.equal(parsed.options.retryShed, false);
    const retrying = parseArgs(['--retry-shed']);
    assert.equal(!retrying.help && retrying.options.retryShed, true);
    assert.deepEqual(parseArgs(['--help']), { help: true });
    for (const bad of [
      ['--orders', '0'],
      ['--skew', 'pareto'],
      ['--rate', '10', '--concurrency', '5'],
      ['--nope'],
      ['--target', 'ftp://x'],
      ['--items-max', '5', '--products', '2'],
      ['--orders'],
      ['--retry-shed=1'],
    ]) {
      assert.throws(
        () => parseArgs(bad),
        (err: unknown) => err instanceof UsageError && !err.message.includes('\n'),
        bad.join(' '),
      );
    }
  });

  it('exits 2 with one line on a bad option', async () => {
    const res = await npmLoad(['--concurrency', '-3'], {});
    assert.equal(res.code, 2);
    assert.equal(res.stdout, '');
    assert.match(res.stderr.trim(), /^load: --concurrency/);
    assert.equal(res.stderr.trim().split('\n').length, 1);
  });
});

describe('load generator: workload and invariants', () => {
  it('plans the same orders from the same seed, hot products short under zipf', () => {
    const shape = { orders: 2_000, products: 50, users: 100, skew: 'zipf' as const, itemsMax: 3, poorUsers: 0.1 };
    const a = planOrders(shape, seededRng(5));
    assert.deepEqual(planOrders(shape, seededRng(5)), a);
    for (const o of a) assert.equal(new Set(o.lines.map((l) => l.product)).size, o.lines.length);
    const cat = planCatalogue(shape, a, seededRng(6), 'x-');
    assert.equal(cat.hot.length, 2);
    assert.equal(cat.poor.length, 10);
    const demand = a
      .flatMap((o) => o.lines)
      .filter((l) => l.product === 0)
      .reduce((n, l) => n + l.quantity, 0);
    assert.ok(cat.products[0]!.stock < demand, 'the hottest product is short');
  });

  it('names what broke', () => {
    const catalogue = {
      prefix: 'x-',
      products: [{ productId: 'p', stock: 10, price: 5 }],
      users: [{ userId: 'u', balance: 100 }],
      hot: [],
      poor: [],
    };
    const done = [{ orderId: 'o1', userId: 'u', items: [{ productId: 'p', quantity: 2 }], totalPrice: 10 }];
    assert.equal(checkInvariants(catalogue, done, { stocks: [8], balances: [90] }, 0), 'ok');
    assert.match(
      checkInvariants(catalogue, done, { stocks: [9], balances: [90] }, 0),
      /product p: stock 9, expected 8/,
    );
    assert.match(
      checkInvariants(catalogue, done, { stocks: [8], balances: [80] }, 0),
      /user u: balance 80, expected 90/,
    );
    assert.match(checkInvariants(catalogue, done, { stocks: [8], balances: [90] }, 2), /2 order\(s\) not terminal/);
    assert.match(
      checkInvariants(catalogue, [{ ...done[0]!, totalPrice: 11 }], { stocks: [8], balances: [89] }, 0),
      /totalPrice 11/,
    );
  });
});

/** A system that completes every order at once, except the ones named, which never end. */
function fakeDriver(neverEnds: (key: string) => boolean): Driver {
  const stock = new Map<string, { stock: number; price: number }>();
  const balance = new Map<string, number>();
  const pending: ((t: Terminal | null) => void)[] = [];
  let n = 0;
  return {
    mode: 'in-process',
    describe: async () => ({ broker: 'memory', store: 'memory' }),
    async seed(catalogue) {
      for (const p of catalogue.products) stock.set(p.productId, { stock: p.stock, price: p.price });
      for (const u of catalogue.users) balance.set(u.userId, u.balance);
    },
    async place(order) {
      const orderId = `o${n++}`;
      if (neverEnds(order.key)) return { orderId, terminal: new Promise((resolve) => pending.push(resolve)) };
      let total = 0;
      for (const item of order.items) {
        const p = stock.get(item.productId)!;
        p.stock -= item.quantity;
        total += item.quantity * p.price;
      }
      balance.set(order.userId, balance.get(order.userId)! - total);
      return { orderId, terminal: Promise.resolve({ status: 'COMPLETED', totalPrice: total, at: performance.now() }) };
    },
    abandon: () => pending.splice(0).forEach((resolve) => resolve(null)),
    stocks: async (ids) => ids.map((id) => stock.get(id)?.stock ?? null),
    balances: async (ids) => ids.map((id) => balance.get(id) ?? null),
    close: async () => {},
  };
}

describe('load generator: latency', () => {
  it('never reports a percentile above the largest latency recorded', () => {
    // 1000.001 ms falls in a bucket whose top is 1000.447 ms: read as is, p99 > max.
    const one = new Latency();
    one.record(1000.001);
    assert.deepEqual(one.summary(), { p50: 1000.001, p95: 1000.001, p99: 1000.001, max: 1000.001 });
    const many = new Latency();
    for (let i = 0; i < 100; i++) many.record(37.1 + i * 0.0003);
    const s = many.summary();
    assert.ok(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max, JSON.stringify(s));
    assert.equal(new Latency().summary().max, 0);
  });
});

describe('load generator: intake', () => {
  it('counts what was accepted and what ended between the first POST and the last accepted one', () => {
    // 4 accepted over 2 s; 1 ended by the last POST, 3 after it.
    assert.deepEqual(intakeOf(1_000, 3_000, 4, [2_500, 3_001, 4_000, 5_000]), {
      intake: { ms: 2_000, acceptedPerSec: 2, endedPerSec: 0.5 },
    });
    assert.deepEqual(intakeOf(Number.NaN, Number.NaN, 0, []), {});
    assert.deepEqual(intakeOf(1_000, 1_000, 1, [1_200]), {});
  });

  it('is in the report of an open-loop run', async () => {
    const report = await runLoad(loadOptions({ orders: 200, rate: 1_000, seed: 14 }), {});
    assert.ok(report.intake, JSON.stringify(report));
    assert.ok(report.intake.acceptedPerSec > 0 && report.intake.endedPerSec > 0, JSON.stringify(report.intake));
    assert.ok(report.intake.ms > 0 && report.intake.ms <= report.elapsedMs, JSON.stringify(report));
  });
});

describe('load generator: the deadline', () => {
  it('counts an order that never ends as stuck, without holding up the others, and fails the run', async () => {
    const report = await runWithDriver(
      fakeDriver((key) => key.endsWith('-o3')),
      loadOptions({ orders: 50, concurrency: 4, deadlineSec: 0.05, seed: 1 }),
    );
    assert.equal(report.stuck, 1);
    assert.equal(report.completed, 49);
    assert.match(report.invariants, /^1 order\(s\) not terminal by the deadline$/);
    assert.equal(exitCode(report), 1);
    assert.equal(exitCode({ ...report, stuck: 0, invariants: 'ok' }), 0);
  });
});

describe('load generator: in-process', () => {
  it('runs a closed loop with skew and poor users; the invariants hold', async () => {
    const report = await runLoad(
      loadOptions({ orders: 400, concurrency: 32, products: 20, users: 50, skew: 'zipf', poorUsers: 0.2, seed: 11 }),
      {},
    );
    assertReport(report, 'in-process', 400);
    assert.equal(report.concurrency, 32);
    assert.equal(report.seed, 11);
    assert.ok((report.reasons.INSUFFICIENT_BALANCE ?? 0) > 0, JSON.stringify(report.reasons));
  });

  it('runs an open loop at a fixed rate after a warm-up, and traces every order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'load-'));
    try {
      const trace = join(dir, 'trace.csv');
      const report = await runLoad(loadOptions({ orders: 200, rate: 2_000, warmup: 100, seed: 12, trace }), {});
      assertReport(report, 'in-process', 200);
      assert.equal(report.rate, 2_000);
      assert.equal(report.warmup, 100);
      assert.equal(typeof report.offeredPerSec, 'number');
      assert.ok(report.offeredPerSec! > 0);
      const lines = readFileSync(trace, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'seq,startMs,latencyMs,status');
      assert.equal(lines.length, 201);
      assert.match(lines[1]!, /^\d+,\d+\.\d,\d+\.\d\d,(COMPLETED|REJECTED|CANCELLED)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('holds the invariants with duplicated and reordered messages', async () => {
    const report = await runLoad(
      loadOptions({ orders: 300, concurrency: 16, products: 10, users: 20, skew: 'zipf', seed: 13 }),
      {
        MEMORY_FAULTS: 'dup=0.1,reorder=0.2,seed=13',
      },
    );
    assertReport(report, 'in-process', 300);
  });
});

describe('load generator: over HTTP', () => {
  let server: RunningProcess;
  before(async () => {
    server = await startProcess({ ADMIN_TOKEN });
  });
  after(async () => {
    await server?.stop();
  });

  it('runs through the api and learns the broker from /healthz', async () => {
    const report = await runLoad(
      loadOptions({
        orders: 300,
        concurrency: 32,
        target: server.url,
        adminToken: ADMIN_TOKEN,
        skew: 'zipf',
        poorUsers: 0.1,
        seed: 21,
      }),
      {},
    );
    assertReport(report, 'http', 300);
    assert.equal(report.store, 'memory');
  });

  it('`npm run load` prints the report as its last stdout line and exits 0', async () => {
    const res = await npmLoad(
      ['--target', server.url, '--orders', '300', '--concurrency', '48', '--skew', 'zipf', '--seed', '22'],
      { ADMIN_TOKEN },
    );
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]!) as Report;
    assertReport(report, 'http', 300);
    assert.equal(report.shed, 0);
    assert.deepEqual(Object.keys(report).slice(0, 15), [
      'mode',
      'broker',
      'orders',
      'completed',
      'cancelled',
      'rejected',
      'stuck',
      'shed',
      'elapsedMs',
      'ordersPerSec',
      'latencyMs',
      'invariants',
      'rssMB',
      'heapMB',
      'seed',
    ]);
  });

  it('says ADMIN_TOKEN is missing, in one line, exit 2', async () => {
    const res = await npmLoad(['--target', server.url, '--orders', '10'], { ADMIN_TOKEN: '' });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /ADMIN_TOKEN is not set/);
    assert.equal(res.stdout, '');
  });
});
