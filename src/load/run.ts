/**
 * One load run: plan the workload from the seed, seed the run's catalogue, place the
 * orders (closed loop: `concurrency` in flight; open loop: `rate` per second on a fixed
 * schedule), wait for their ends up to the deadline, check the invariants, report.
 *
 * Latency is from the POST (open loop: from the moment the schedule said to POST, so a
 * slow send is not hidden) to the terminal status reaching the generator.
 */
import { once } from 'node:events';
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { seededRng } from '../random.ts';
import { planCatalogue, productId, runPrefix, userId, type Catalogue } from './catalogue.ts';
import { isShed, type Driver, type OrderRequest, type Terminal } from './driver.ts';
import { createHttpDriver } from './http.ts';
import { createInProcessDriver } from './in-process.ts';
import { checkInvariants, counterDrift, type CompletedOrder } from './invariants.ts';
import { Latency } from './latency.ts';
import { UsageError, type LoadOptions } from './options.ts';
import { createProgress, type Counts } from './progress.ts';
import { mb, perSecond, type Report } from './report.ts';
import { placeOrShed } from './shed.ts';
import { planOrders, type PlannedOrder } from './workload.ts';

type Env = Record<string, string | undefined>;

/** Open loop: POSTs allowed per pool before they queue (long-polls get their own pool). */
const OPEN_LOOP_CONNECTIONS = 512;
const TICK_MS = 250;

interface PlacedOne {
  /** Settles when the order has ended or was abandoned. */
  end: Promise<void>;
}

async function createDriver(options: LoadOptions, env: Env): Promise<Driver> {
  if (options.target === null) return createInProcessDriver(env);
  if (!options.adminToken) {
    throw new UsageError(
      `ADMIN_TOKEN is not set: --target seeds its products and users through ${options.target}/admin/*, which needs the server's token`,
    );
  }
  return createHttpDriver({
    target: options.target,
    adminToken: options.adminToken,
    connections: options.rate === null ? options.concurrency : OPEN_LOOP_CONNECTIONS,
    env,
  });
}

const toRequest = (catalogue: Catalogue, order: PlannedOrder): OrderRequest => ({
  key: `${catalogue.prefix}o${order.seq}`,
  userId: userId(catalogue.prefix, order.user),
  items: order.lines.map((l) => ({ productId: productId(catalogue.prefix, l.product), quantity: l.quantity })),
});

export async function runLoad(options: LoadOptions, env: Env = process.env): Promise<Report> {
  return runWithDriver(await createDriver(options, env), options);
}

/** A run on the given driver (tests hand in their own); closes it at the end. */
export async function runWithDriver(driver: Driver, options: LoadOptions): Promise<Report> {
  try {
    const system = await driver.describe();
    let warmupBroke: string | null = null;
    if (options.warmup > 0) {
      // Closed loop, on a catalogue of its own; only its invariants are kept from its report.
      const warm = {
        ...options,
        orders: options.warmup,
        seed: options.seed + 1,
        rate: null,
        progress: false,
        trace: null,
      };
      const warmed = await drive(driver, system, warm, await seeded(driver, warm));
      if (warmed.invariants !== 'ok' || warmed.errors > 0)
        warmupBroke = `warm-up: ${warmed.invariants}, ${warmed.errors} not placed`;
    }
    const report = await drive(driver, system, options, await seeded(driver, options));
    if (warmupBroke !== null)
      report.invariants = report.invariants === 'ok' ? warmupBroke : `${warmupBroke}; ${report.invariants}`;
    return options.warmup > 0 ? { ...report, warmup: options.warmup } : report;
  } finally {
    await driver.close();
  }
}

/** Plans the orders from the seed, and the run's catalogue from them, and seeds it. */
async function seeded(
  driver: Driver,
  options: LoadOptions,
): Promise<{ catalogue: Catalogue; planned: PlannedOrder[] }> {
  const planned = planOrders(options, seededRng(options.seed));
  const catalogue = planCatalogue(options, planned, seededRng(options.seed ^ 0x5bd1e995), runPrefix());
  await driver.seed(catalogue);
  return { catalogue, planned };
}

async function drive(
  driver: Driver,
  system: { broker: string; store: string },
  options: LoadOptions,
  { catalogue, planned }: { catalogue: Catalogue; planned: readonly PlannedOrder[] },
): Promise<Report> {
  const latency = new Latency();
  const counts: Counts = {
    total: planned.length,
    posted: 0,
    terminal: 0,
    completed: 0,
    rejected: 0,
    cancelled: 0,
    errors: 0,
    shed: 0,
  };
  const reasons: Record<string, number> = {};
  const completed: CompletedOrder[] = [];
  const ends: Promise<void>[] = [];
  const firstErrors: string[] = [];
  let firstPostAt = Number.NaN;
  let lastPostAt = Number.NaN;
  let lastTerminalAt = Number.NaN;
  /** Orders accepted, and when each ended (performance.now()). */
  let accepted = 0;
  const endedAt: number[] = [];
  let peakHeap = process.memoryUsage().heapUsed;
  /** Set when an order could not be placed: no more are. */
  let halted = false;
  const more = (): boolean => !halted;

  const trace = openTrace(options.trace);
  trace?.write('seq,startMs,latencyMs,status\n');
  const progress = createProgress(options.progress);
  const ticker = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    progress.tick(counts);
  }, TICK_MS);

  const ended = (request: OrderRequest, seq: number, orderId: string, startedAt: number, t: Terminal | null): void => {
    if (t === null) return;
    counts.terminal++;
    endedAt.push(t.at);
    lastTerminalAt = Math.max(Number.isNaN(lastTerminalAt) ? 0 : lastTerminalAt, t.at);
    latency.record(t.at - startedAt);
    trace?.write(`${seq},${(startedAt - firstPostAt).toFixed(1)},${(t.at - startedAt).toFixed(2)},${t.status}\n`);
    if (t.status === 'COMPLETED') {
      counts.completed++;
      completed.push({ orderId, userId: request.userId, items: request.items, totalPrice: t.totalPrice });
    } else {
      if (t.status === 'REJECTED') counts.rejected++;
      else counts.cancelled++;
      const code = t.reasonCode ?? 'NONE';
      reasons[code] = (reasons[code] ?? 0) + 1;
    }
  };

  /** Places one order; resolves once it is accepted (or failed) with its end, boxed: an async function would flatten a returned promise. */
  const placeOne = async (order: PlannedOrder, startedAt: number): Promise<PlacedOne | null> => {
    const request = toRequest(catalogue, order);
    counts.posted++;
    if (Number.isNaN(firstPostAt)) firstPostAt = startedAt;
    try {
      const placed = await placeOrShed(driver, request, {
        retryShed: options.retryShed,
        giveUpMs: options.deadlineSec * 1000,
      });
      // Refused at the door, nothing recorded: not stuck, not part of the invariants.
      if (isShed(placed)) {
        counts.shed++;
        return { end: Promise.resolve() };
      }
      lastPostAt = performance.now();
      accepted++;
      const end = placed.terminal.then((t) => ended(request, order.seq, placed.orderId, startedAt, t));
      ends.push(end);
      return { end };
    } catch (err) {
      // The driver already retried what a careful client retries: stop placing more.
      counts.errors++;
      if (firstErrors.length < 3) firstErrors.push((err as Error).message);
      halted = true;
      return null;
    }
  };

  const deadlineMs = options.deadlineSec * 1000;
  let offeredPerSec: number | undefined;
  try {
    if (options.rate === null) {
      await closedLoop(planned, options.concurrency, deadlineMs, placeOne, more);
    } else {
      offeredPerSec = await openLoop(planned, options.rate, placeOne, more);
    }
    // The deadline runs from the last POST; whatever has not ended by then is stuck.
    const wait = Number.isNaN(lastPostAt) ? 0 : lastPostAt + deadlineMs - performance.now();
    const timer = setTimeout(() => driver.abandon(), Math.max(0, wait));
    await Promise.all(ends);
    clearTimeout(timer);
  } finally {
    clearInterval(ticker);
    progress.stop(counts);
    if (trace) {
      trace.end();
      await once(trace, 'close');
    }
  }
  if (firstErrors.length > 0) {
    process.stderr.write(
      `load: stopped placing orders after a failure; ${planned.length - ends.length - counts.shed} order(s) not placed, e.g. ${firstErrors.join(' | ')}\n`,
    );
  }

  const stuck = ends.length - counts.terminal;
  let invariants: string;
  let drift: { lost: number; doubled: number } | undefined;
  try {
    const [stocks, balances] = await Promise.all([
      driver.stocks(catalogue.products.map((p) => p.productId)),
      driver.balances(catalogue.users.map((u) => u.userId)),
    ]);
    invariants = checkInvariants(catalogue, completed, { stocks, balances }, stuck);
    drift = counterDrift(catalogue, completed, { stocks, balances });
  } catch (err) {
    invariants = `not checked: the final stock and balances could not be read (${(err as Error).message})`;
  }
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const end = Number.isNaN(lastTerminalAt) ? performance.now() : lastTerminalAt;
  const elapsedMs = Number.isNaN(firstPostAt) ? 0 : Math.round(end - firstPostAt);

  return {
    mode: driver.mode,
    broker: system.broker,
    orders: planned.length,
    completed: counts.completed,
    cancelled: counts.cancelled,
    rejected: counts.rejected,
    stuck,
    shed: counts.shed,
    elapsedMs,
    ordersPerSec: perSecond(counts.terminal, elapsedMs),
    latencyMs: latency.summary(),
    invariants,
    rssMB: mb(process.resourceUsage().maxRSS * 1024),
    heapMB: mb(peakHeap),
    ...(offeredPerSec === undefined ? {} : { offeredPerSec }),
    seed: options.seed,
    store: system.store,
    // Orders never placed after a failure count too.
    errors: planned.length - ends.length - counts.shed,
    ...(options.rate === null ? { concurrency: options.concurrency } : { rate: options.rate }),
    reasons,
    ...(drift ? { drift } : {}),
    // Wall-clock time of the first POST: the trace's startMs are offsets from it.
    ...(Number.isNaN(firstPostAt)
      ? {}
      : { firstPostEpochMs: Math.round(Date.now() - (performance.now() - firstPostAt)) }),
    ...intakeOf(firstPostAt, lastPostAt, accepted, endedAt),
  };
}

/** Accepted and ended per second from the first POST to the last accepted one (see Report.intake). */
export function intakeOf(
  firstPostAt: number,
  lastPostAt: number,
  accepted: number,
  endedAt: readonly number[],
): { intake?: Report['intake'] } {
  if (Number.isNaN(firstPostAt) || Number.isNaN(lastPostAt) || lastPostAt <= firstPostAt) return {};
  const ms = lastPostAt - firstPostAt;
  const ended = endedAt.filter((t) => t <= lastPostAt).length;
  return {
    intake: {
      ms: Math.round(ms),
      acceptedPerSec: perSecond(accepted, ms),
      endedPerSec: perSecond(ended, ms),
    },
  };
}

function openTrace(path: string | null): WriteStream | null {
  if (path === null) return null;
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (err) {
    throw new UsageError(`--trace ${path}: ${(err as Error).message}`);
  }
  return createWriteStream('', { fd });
}

/** `concurrency` workers, each placing its next order once the last one ended (or waited `capMs`). */
async function closedLoop(
  planned: readonly PlannedOrder[],
  concurrency: number,
  capMs: number,
  placeOne: (order: PlannedOrder, startedAt: number) => Promise<PlacedOne | null>,
  more: () => boolean,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < planned.length && more(); i = next++) {
      const placed = await placeOne(planned[i]!, performance.now());
      if (placed === null) continue;
      // A stuck order must not hold its worker forever; it is still followed to the end.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([placed.end, new Promise<void>((resolve) => (timer = setTimeout(resolve, capMs)))]);
      clearTimeout(timer);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, planned.length) }, worker));
}

/** Order i is due at start + i/rate; each is placed when due, whatever the others are doing. Returns the rate achieved. */
async function openLoop(
  planned: readonly PlannedOrder[],
  rate: number,
  placeOne: (order: PlannedOrder, startedAt: number) => Promise<PlacedOne | null>,
  more: () => boolean,
): Promise<number> {
  const interval = 1000 / rate;
  const placing: Promise<unknown>[] = [];
  const start = performance.now();
  let last = start;
  let i = 0;
  while (i < planned.length && more()) {
    const now = performance.now();
    for (; i < planned.length && start + i * interval <= now && more(); i++) {
      last = performance.now();
      placing.push(placeOne(planned[i]!, start + i * interval));
    }
    if (i < planned.length && more()) await delay(Math.max(0, start + i * interval - performance.now()));
  }
  await Promise.all(placing);
  const span = last - start;
  return i > 1 && span > 0 ? Math.round(((i - 1) * 1000) / span) : rate;
}
