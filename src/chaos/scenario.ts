/**
 * One chaos run: a fresh cluster under its own prefix, the load generator against its api,
 * the fault injected once 30% of the orders are accepted, then the figures and goals.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Report } from '../load/report.ts';
import { inFlightAt, inFlightDuring, p99Before, parseTrace, recoverySec } from './analysis.ts';
import { Cluster } from './cluster.ts';
import * as faults from './faults.ts';
import { acceptedSoFar, startLoad } from './load.ts';
import type { ChaosOptions } from './options.ts';
import type { LocalKafka, LocalRedis } from './services.ts';

export type RunName =
  | 'none'
  | 'term'
  | 'term-recreate'
  | 'kill'
  | 'kill+copy'
  | 'kafka'
  | 'redis'
  | 'redlock-1'
  | 'redlock-2'
  | 'api'
  | 'overload';

export interface RunResult {
  fault: RunName;
  orders: number;
  inFlightAtHit: number | null;
  /** Orders in flight at some moment from the hit to the healing. */
  inFlightDuringFault: number | null;
  lost: number;
  doubled: number;
  stuck: number;
  timeoutCancelled: number;
  shed: number;
  p99Ms: number;
  /** p99 of the orders that ended before the fault (the run's normal). */
  normalP99Ms: number | null;
  recoverySec: number | null;
  ordersPerSec: number;
  invariants: string;
  /** Offered orders/s (overload: 3x the capacity measured just before). */
  offeredPerSec: number;
  capacityPerSec?: number;
  goals: string[];
  ok: boolean;
}

export interface Services {
  kafka: LocalKafka;
  /** The shared Redis for counters (REDIS_URL). */
  redisUrl: string;
  /** Started for the redis fault: an AOF Redis of the run's own. */
  ownRedis?: LocalRedis;
  redlock?: LocalRedis[];
}

const ADMIN_TOKEN = 'chaos-admin-token-0123456789abcdef0123';
const HIT_AT_FRACTION = 0.2;
/** Unmeasured orders each load places first (the api counts them as accepted too). */
const WARMUP = 300;

interface Plan {
  fault: faults.Fault | null;
  copies: number;
  redis: 'shared' | 'own';
  redlock: boolean;
}

const plans: Record<RunName, Plan> = {
  none: { fault: null, copies: 1, redis: 'shared', redlock: false },
  term: { fault: faults.term, copies: 1, redis: 'shared', redlock: false },
  'term-recreate': { fault: faults.termRecreate, copies: 1, redis: 'shared', redlock: false },
  kill: { fault: faults.kill, copies: 1, redis: 'shared', redlock: false },
  'kill+copy': { fault: faults.kill, copies: 2, redis: 'shared', redlock: false },
  kafka: { fault: faults.kafka, copies: 1, redis: 'shared', redlock: false },
  redis: { fault: faults.redis, copies: 1, redis: 'own', redlock: false },
  'redlock-1': { fault: faults.redlockDown(1), copies: 1, redis: 'shared', redlock: true },
  'redlock-2': { fault: faults.redlockDown(2), copies: 1, redis: 'shared', redlock: true },
  api: { fault: faults.api, copies: 1, redis: 'shared', redlock: false },
  overload: { fault: null, copies: 1, redis: 'shared', redlock: false },
};

function loadArgs(
  opts: ChaosOptions,
  url: string,
  trace: string,
  rate: number,
  orders: number,
  seed: number,
): string[] {
  // A short unmeasured warm-up: the first seconds of cold JITs and pools are not the run's normal.
  return [
    '--target',
    url,
    '--warmup',
    String(WARMUP),
    '--rate',
    String(rate),
    '--orders',
    String(orders),
    '--seed',
    String(seed),
    '--skew',
    'zipf',
    '--poor-users',
    '0.05',
    '--deadline',
    String(Math.ceil((opts.stepTimeoutMs * 3) / 1000)),
    '--trace',
    trace,
  ];
}

export async function runScenario(
  name: RunName,
  opts: ChaosOptions,
  services: Services,
  index: number,
  log: (line: string) => void,
  baselineP99: number | null,
): Promise<RunResult> {
  const plan = plans[name];
  const prefix = `chaos${opts.seed}r${index}${name.replace(/[^a-z0-9]/g, '')}`;
  const dir = join(opts.dir, prefix);
  const cluster = await Cluster.create({
    prefix,
    kafkaBrokers: services.kafka.brokers,
    redisUrl: plan.redis === 'own' ? services.ownRedis!.url : services.redisUrl,
    ...(plan.redlock ? { redlockUrls: services.redlock!.map((r) => r.url).join(',') } : {}),
    partitions: opts.partitions,
    stepTimeoutMs: opts.stepTimeoutMs,
    adminToken: ADMIN_TOKEN,
    logDir: dir,
    copies: plan.copies,
    layout: opts.layout,
  });
  const env = { ...process.env, ADMIN_TOKEN };
  log(`${name}: starting ${cluster.all().length} role processes (logs in ${dir})`);
  await cluster.start();
  try {
    let rate = opts.rate;
    let orders = opts.orders;
    let capacity: number | undefined;
    if (name === 'overload') {
      const measure = startLoad(
        [
          '--target',
          cluster.api.url,
          '--concurrency',
          '256',
          '--orders',
          String(opts.quick ? 1000 : 6000),
          '--seed',
          String(opts.seed + 7),
        ],
        env,
        join(dir, 'capacity.log'),
      );
      capacity = (await measure.report).ordersPerSec;
      rate = Math.max(1, Math.round(capacity * 3));
      orders = rate * (opts.quick ? 10 : 20);
      log(`overload: capacity ${capacity}/s; offering ${rate}/s for ${orders} orders`);
    }
    const trace = join(dir, 'trace.csv');
    const load = startLoad(loadArgs(opts, cluster.api.url, trace, rate, orders, opts.seed), env, join(dir, 'load.log'));
    let times: faults.FaultTimes | null = null;
    if (plan.fault) {
      const hitAfter = WARMUP + Math.ceil(orders * HIT_AT_FRACTION);
      while (((await acceptedSoFar(cluster.api.url)) ?? 0) < hitAfter) await delay(100);
      times = await plan.fault({
        cluster,
        kafka: services.kafka,
        ...(services.ownRedis ? { redis: services.ownRedis } : {}),
        ...(services.redlock ? { redlock: services.redlock } : {}),
        quick: opts.quick,
        log: (l) => log(`${name}: ${l}`),
      });
      log(`${name}: healed after ${((times.healedAt - times.hitAt) / 1000).toFixed(1)} s`);
    }
    const report = await load.report;
    return judge(name, report, trace, times, rate, opts, baselineP99, capacity);
  } finally {
    await cluster.stop();
  }
}

function judge(
  name: RunName,
  report: Report & { shed?: number },
  tracePath: string,
  times: faults.FaultTimes | null,
  rate: number,
  opts: ChaosOptions,
  baselineP99: number | null,
  capacity?: number,
): RunResult {
  const traced =
    report.firstPostEpochMs === undefined ? [] : parseTrace(readFileSync(tracePath, 'utf8'), report.firstPostEpochMs);
  const normal = times ? p99Before(traced, times.hitAt) : null;
  const timeouts = report.reasons.TIMEOUT ?? 0;
  const shed = report.shed ?? 0;
  const accepted = report.orders - shed;
  const result: RunResult = {
    fault: name,
    orders: report.orders,
    inFlightAtHit: times ? inFlightAt(traced, times.hitAt) : null,
    inFlightDuringFault: times ? inFlightDuring(traced, times.hitAt, times.healedAt) : null,
    lost: report.drift?.lost ?? 0,
    doubled: report.drift?.doubled ?? 0,
    stuck: report.stuck + report.errors,
    timeoutCancelled: timeouts,
    shed,
    p99Ms: Math.round(report.latencyMs.p99),
    normalP99Ms: normal === null ? null : Math.round(normal),
    recoverySec: times && normal !== null ? recoverySec(traced, times.hitAt, times.healedAt, normal) : null,
    ordersPerSec: report.ordersPerSec,
    invariants: report.invariants,
    offeredPerSec: rate,
    ...(capacity === undefined ? {} : { capacityPerSec: capacity }),
    goals: [],
    ok: true,
  };
  const goal = (ok: boolean, what: string) => {
    if (!ok) result.goals.push(what);
  };
  goal(report.invariants === 'ok', `invariants: ${report.invariants}`);
  goal(result.stuck === 0, `${result.stuck} stuck or never placed`);
  goal(result.lost === 0 && result.doubled === 0, `lost ${result.lost}, doubled ${result.doubled}`);
  if (name === 'term-recreate') goal(timeouts === 0, `${timeouts} CANCELLED for TIMEOUT (goal 0)`);
  if (name === 'term') {
    goal(timeouts === 0, `${timeouts} CANCELLED for TIMEOUT (goal 0)`);
    const ref = baselineP99 ?? normal;
    if (ref !== null)
      goal(
        result.p99Ms <= 2 * Math.max(ref, 50),
        `p99 ${result.p99Ms} ms over 2x the run without a fault (${Math.round(ref)} ms)`,
      );
  }
  if (['kill', 'kill+copy', 'kafka', 'redis', 'redlock-1'].includes(name)) {
    goal(timeouts <= accepted * 0.01, `${timeouts} CANCELLED for TIMEOUT (goal <= 1% of ${accepted})`);
    goal(
      result.recoverySec !== null && result.recoverySec <= 15,
      `p99 back to normal ${result.recoverySec === null ? 'never' : `${result.recoverySec} s`} after healing (goal <= 15 s)`,
    );
  }
  if (name === 'overload' && capacity !== undefined) {
    goal(shed > 0, 'nothing shed at 3x capacity');
    goal(report.ordersPerSec >= 0.8 * capacity, `goodput ${report.ordersPerSec}/s under 80% of capacity ${capacity}/s`);
    goal(result.p99Ms <= opts.stepTimeoutMs / 2, `p99 ${result.p99Ms} ms over half the step timeout`);
    goal(timeouts <= accepted * 0.01, `${timeouts} CANCELLED for TIMEOUT (goal <= 1% of ${accepted})`);
  }
  result.ok = result.goals.length === 0;
  return result;
}
