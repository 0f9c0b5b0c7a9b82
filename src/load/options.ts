/**
 * The load generator's options: defaults, `--help` text and argv parsing. A bad option is
 * a UsageError whose message is one line; the cli prints it and exits 2.
 */
import { randomInt } from 'node:crypto';

export type Skew = 'uniform' | 'zipf';

export interface LoadOptions {
  orders: number;
  /** Closed loop: orders in flight at once. Unused when `rate` is set. */
  concurrency: number;
  /** Open loop: orders offered per second on a fixed schedule; null for the closed loop. */
  rate: number | null;
  /** Base URL of a running api (http mode); null runs the engine in this process. */
  target: string | null;
  products: number;
  users: number;
  skew: Skew;
  /** Fraction of users (0..1) whose balance is too small for most of their orders. */
  poorUsers: number;
  seed: number;
  /** An order not terminal this long after the last POST counts as stuck. */
  deadlineSec: number;
  /** Lines per order: 1..itemsMax, each a distinct product. */
  itemsMax: number;
  /** Progress on stderr (a bar on a TTY, plain lines otherwise). */
  progress: boolean;
  /** Bearer token for /admin/* (http mode seeds through it); from ADMIN_TOKEN. */
  adminToken: string | undefined;
  /** Orders placed first, on their own catalogue, and not measured (JIT and caches warm up). */
  warmup: number;
  /** Place an order shed with 503 OVERLOADED again after Retry-After (same Idempotency-Key). */
  retryShed: boolean;
  /** A CSV file to write one line per ended order to (start offset, latency, status), or null. */
  trace: string | null;
}

export class UsageError extends Error {}

export const Defaults = {
  orders: 10_000,
  concurrency: 64,
  products: 100,
  users: 1_000,
  skew: 'uniform' as Skew,
  poorUsers: 0,
  deadlineSec: 30,
  itemsMax: 3,
};

export const Usage = `Usage: npm run load -- [options]

Places orders against the saga, measures each one from POST to its terminal status, checks
the invariants, and prints one JSON report line on stdout (progress goes to stderr).

Where:
  --in-process            run the engine in this process (stock, order, payment roles on the
                          adapters BROKER/STORE name, memory by default); the default
  --target URL            a running api, e.g. http://127.0.0.1:3000: POST /orders, then the
                          GET /orders/{id}?wait= long-poll; seeds through /admin (ADMIN_TOKEN)
How much:
  --orders N              orders to place (default ${Defaults.orders})
  --concurrency C         closed loop: C orders in flight at once (default ${Defaults.concurrency})
  --rate R                open loop instead: R orders/s on a fixed schedule, whatever the latency
What:
  --products P            products seeded for this run (default ${Defaults.products})
  --users U               users seeded for this run (default ${Defaults.users})
  --skew uniform|zipf     product popularity; zipf makes a few hot products run short (default ${Defaults.skew})
  --poor-users F          fraction 0..1 of users who cannot pay for most orders (default ${Defaults.poorUsers})
  --items-max K           lines per order, 1..K distinct products (default ${Defaults.itemsMax})
  --seed S                seed of the workload (default: random, printed in the report)
  --deadline SECONDS      orders not terminal this long after the last POST are stuck (default ${Defaults.deadlineSec})
  --warmup N              first place N orders on a catalogue of their own, unmeasured (the
                          invariants still checked), so a cold process does not skew the run
  --trace FILE            write one CSV line per ended order: seq,startMs,latencyMs,status
                          (startMs from the first POST), to see when the slow ones happened
  --retry-shed            place an order the api refused with 503 OVERLOADED again after its
                          Retry-After, with the same Idempotency-Key (until --deadline); without
                          it a refused order is counted as \`shed\` in the report and left alone
  --quiet                 no progress on stderr
  --help                  this text

Exit code: 0 when the invariants hold and nothing is stuck, 1 otherwise, 2 for bad options.
`;

type Env = Record<string, string | undefined>;

const Flags = new Set(['--in-process', '--retry-shed', '--quiet', '--help', '-h']);
const Valued = new Set([
  '--orders',
  '--concurrency',
  '--rate',
  '--target',
  '--products',
  '--users',
  '--skew',
  '--poor-users',
  '--seed',
  '--deadline',
  '--items-max',
  '--trace',
  '--warmup',
]);

function integer(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${name} ${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

function decimal(name: string, raw: string, min: number, max: number, minInclusive = true): number {
  const n = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || !Number.isFinite(n) || n > max || n < min || (!minInclusive && n === min)) {
    throw new UsageError(
      `${name} ${JSON.stringify(raw)}: expected a number ${minInclusive ? 'from' : 'above'} ${min} ${minInclusive ? 'to' : 'up to'} ${max}`,
    );
  }
  return n;
}

function targetUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--target ${JSON.stringify(raw)}: expected a URL such as http://127.0.0.1:3000`);
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search
  ) {
    throw new UsageError(`--target ${JSON.stringify(raw)}: expected http(s)://host:port with no path`);
  }
  return url.origin;
}

/** `{ help: true }` for --help; otherwise the options, defaults filled in. */
export function parseArgs(
  argv: readonly string[],
  env: Env = process.env,
): { help: true } | { help: false; options: LoadOptions } {
  const given = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (Flags.has(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      flags.add(name);
    } else if (Valued.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value (see --help)`);
      if (given.has(name)) throw new UsageError(`${name} given twice`);
      given.set(name, value);
    } else {
      throw new UsageError(`unknown option ${JSON.stringify(arg)} (see --help)`);
    }
  }
  if (flags.has('--help') || flags.has('-h')) return { help: true };

  const opt = (name: string) => given.get(name);
  if (given.has('--target') && flags.has('--in-process'))
    throw new UsageError('--target and --in-process exclude each other');
  if (given.has('--rate') && given.has('--concurrency'))
    throw new UsageError('--rate (open loop) and --concurrency (closed loop) exclude each other');

  const products =
    opt('--products') === undefined ? Defaults.products : integer('--products', opt('--products')!, 1, 1_000_000);
  const itemsMax =
    opt('--items-max') === undefined ? Defaults.itemsMax : integer('--items-max', opt('--items-max')!, 1, 50);
  if (itemsMax > products)
    throw new UsageError(
      `--items-max ${itemsMax}: cannot exceed --products ${products} (lines name distinct products)`,
    );
  const skew = opt('--skew') ?? Defaults.skew;
  if (skew !== 'uniform' && skew !== 'zipf')
    throw new UsageError(`--skew ${JSON.stringify(skew)}: expected uniform or zipf`);

  const options: LoadOptions = {
    orders: opt('--orders') === undefined ? Defaults.orders : integer('--orders', opt('--orders')!, 1, 100_000_000),
    concurrency:
      opt('--concurrency') === undefined
        ? Defaults.concurrency
        : integer('--concurrency', opt('--concurrency')!, 1, 100_000),
    rate: opt('--rate') === undefined ? null : decimal('--rate', opt('--rate')!, 0, 10_000_000, false),
    target: opt('--target') === undefined ? null : targetUrl(opt('--target')!),
    products,
    users: opt('--users') === undefined ? Defaults.users : integer('--users', opt('--users')!, 1, 10_000_000),
    skew,
    poorUsers:
      opt('--poor-users') === undefined ? Defaults.poorUsers : decimal('--poor-users', opt('--poor-users')!, 0, 1),
    seed: opt('--seed') === undefined ? randomInt(2 ** 31) : integer('--seed', opt('--seed')!, 0, 2 ** 32 - 1),
    deadlineSec:
      opt('--deadline') === undefined
        ? Defaults.deadlineSec
        : decimal('--deadline', opt('--deadline')!, 0, 86_400, false),
    itemsMax,
    progress: !flags.has('--quiet'),
    retryShed: flags.has('--retry-shed'),
    adminToken: env.ADMIN_TOKEN?.trim() || undefined,
    warmup: opt('--warmup') === undefined ? 0 : integer('--warmup', opt('--warmup')!, 0, 100_000_000),
    trace: opt('--trace') ?? null,
  };
  return { help: false, options };
}

/** Options for a programmatic run (tests): defaults, then the given ones. */
export function loadOptions(partial: Partial<LoadOptions> = {}): LoadOptions {
  return {
    ...Defaults,
    rate: null,
    target: null,
    seed: randomInt(2 ** 31),
    progress: false,
    retryShed: false,
    adminToken: undefined,
    warmup: 0,
    trace: null,
    ...partial,
  };
}
