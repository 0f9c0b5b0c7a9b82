/**
 * `npm run chaos` options: which faults, how much load, the seed. A bad option is a
 * UsageError whose message is one line; the cli prints it and exits 2.
 */
import { randomInt } from 'node:crypto';
import { UsageError } from '../load/options.ts';
import { Layouts, type Layout } from './cluster.ts';

/** What `--fault` accepts; `all` runs every one after a baseline without a fault. */
export const FaultNames = ['none', 'term', 'kill', 'kafka', 'redis', 'redlock', 'api', 'overload'] as const;
export type FaultName = (typeof FaultNames)[number];

export interface ChaosOptions {
  faults: FaultName[];
  /** Orders per second offered (open loop). */
  rate: number;
  orders: number;
  seed: number;
  /** Partitions of every topic (KAFKA_PARTITIONS of the roles). */
  partitions: number;
  /** STEP_TIMEOUT_MS of the roles. */
  stepTimeoutMs: number;
  /** Where role logs, traces and service data go. */
  dir: string;
  /** Port of the Kafka broker this command starts for itself (the controller takes the next one). */
  kafkaPort: number;
  /** Short runs (CI): fewer orders, shorter outages. */
  quick: boolean;
  /** Where the worker roles run: a process per role, or processes of every worker role. */
  layout: Layout;
  progress: boolean;
}

export const ChaosUsage = `Usage: npm run chaos -- [options]

Starts the four roles (api, stock, order, payment) as processes on Kafka + Redis, each
run under a prefix of its own, drives them with the load generator over HTTP, injects a
fault mid-load, and ends with a table and one JSON line on stdout. It starts its own Kafka
broker (scripts/kafka-local.sh on --kafka-port) and its own Redis instances where a fault
needs one; the Redis on 127.0.0.1:6379 (REDIS_URL) holds the counters otherwise.

  --fault F[,F...]   ${FaultNames.join('|')}|all (default all)
                     term      rolling deploy of each worker role: its replacement started,
                               then SIGTERM; then again recreating (SIGTERM, start at once)
                     kill      SIGKILL each worker role in turn, restart 2 s later; then again
                               with a second copy of every role already running
                     kafka     the broker stopped for 10 s, then started
                     redis     an AOF Redis (appendfsync always) SIGKILLed, restarted 3 s later
                     redlock   three Redlock masters: one down for 10 s; then two down
                     api       SIGKILL the api, restart it (clients retry with the same key)
                     overload  capacity measured first, then 3x that offered for 20 s
  --rate R           orders/s offered (default 100)
  --orders N         orders per run (default 8000)
  --seed S           workload seed (default random, printed)
  --partitions P     partitions per topic (default 6)
  --step-timeout MS  STEP_TIMEOUT_MS of the roles (default 30000)
  --kafka-port P     port of the broker this command starts (default 19092)
  --dir PATH         logs and data (default $TMPDIR/order-saga-chaos)
  --layout L         per-role: a process of each worker role, each role its own consumer
                     group (default); one-group: processes of every worker role
                     (src/main.ts stock,order,payment), one consumer group for all of them
  --quick            short runs for CI: 1500 orders at 50/s, shorter outages
  --quiet            no progress lines on stderr

Exit code: 0 when every run meets its goals, 1 otherwise, 2 for bad options.
`;

const int = (name: string, raw: string | undefined, min: number, max: number): number => {
  const n = Number(raw);
  if (raw === undefined || !/^\d+$/.test(raw) || n < min || n > max)
    throw new UsageError(`${name} ${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
  return n;
};

export function parseChaosArgs(
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): { help: true } | { help: false; options: ChaosOptions } {
  const given = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (['--quick', '--quiet', '--help', '-h'].includes(name)) flags.add(name);
    else if (
      [
        '--fault',
        '--rate',
        '--orders',
        '--seed',
        '--partitions',
        '--step-timeout',
        '--kafka-port',
        '--dir',
        '--layout',
      ].includes(name)
    ) {
      const value = eq > 0 && arg.startsWith('--') ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value (see --help)`);
      given.set(name, value);
    } else throw new UsageError(`unknown option ${JSON.stringify(arg)} (see --help)`);
  }
  if (flags.has('--help') || flags.has('-h')) return { help: true };
  const quick = flags.has('--quick');
  const faultArg = given.get('--fault') ?? 'all';
  const faults: FaultName[] = [];
  for (const f of faultArg.split(',').map((s) => s.trim())) {
    if (f === 'all') faults.push(...FaultNames);
    else if ((FaultNames as readonly string[]).includes(f)) faults.push(f as FaultName);
    else throw new UsageError(`--fault ${JSON.stringify(f)}: expected ${FaultNames.join(', ')} or all`);
  }
  return {
    help: false,
    options: {
      faults: [...new Set(faults)],
      rate: given.has('--rate') ? int('--rate', given.get('--rate'), 1, 100_000) : quick ? 50 : 100,
      orders: given.has('--orders') ? int('--orders', given.get('--orders'), 10, 10_000_000) : quick ? 1500 : 8000,
      seed: given.has('--seed') ? int('--seed', given.get('--seed'), 0, 2 ** 32 - 1) : randomInt(2 ** 31),
      partitions: given.has('--partitions') ? int('--partitions', given.get('--partitions'), 1, 1000) : 6,
      stepTimeoutMs: given.has('--step-timeout')
        ? int('--step-timeout', given.get('--step-timeout'), 1000, 600_000)
        : 30_000,
      kafkaPort: given.has('--kafka-port') ? int('--kafka-port', given.get('--kafka-port'), 1024, 65000) : 19092,
      dir: given.get('--dir') ?? `${env.TMPDIR ?? '/tmp'}/order-saga-chaos`,
      quick,
      layout: layoutOf(given.get('--layout') ?? 'per-role'),
      progress: !flags.has('--quiet'),
    },
  };
}

function layoutOf(value: string): Layout {
  if ((Layouts as readonly string[]).includes(value)) return value as Layout;
  throw new UsageError(`--layout ${JSON.stringify(value)}: expected ${Layouts.join(' or ')}`);
}
