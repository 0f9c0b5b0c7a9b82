/**
 * Heap per retained finished order on the embedded engine, for BENCHMARKS.md:
 *   node --expose-gc --import tsx scripts/heap-per-order.ts [orders=1000000]
 * Places the orders in-process (the path POST /orders takes), waits until none is in
 * flight, collects garbage, and prints heap and RSS before and after, bytes per order,
 * what the store holds, and the saga host's in-flight mailboxes (no live actor exists:
 * machines are stepped with transition() and nothing outlives its event).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config.ts';
import { Backoff } from '../src/retry.ts';
import { acceptOrder } from '../src/saga/accept.ts';
import { startSystem } from '../src/system.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const N = Number(process.argv[2] ?? 1_000_000);
const system = await startSystem({
  config: { ...loadConfig({}), seedDemo: false },
  roles: ['stock', 'order', 'payment'],
});
const { store, broker } = system;
await store.seed(
  Array.from({ length: 100 }, (_, i) => ({ productId: `p${i}`, stock: 1e12, price: 10 })),
  Array.from({ length: 1000 }, (_, i) => ({ userId: `u${i}`, balance: 1e14 })),
);
const deps = { store, broker, clock: systemClock, stepTimeoutMs: 30_000, compensationRetry: Backoff.compensation };

async function run(n: number): Promise<void> {
  let next = 0;
  let open = 0;
  const done = () => open === 0 && next >= n;
  await Promise.all(
    Array.from({ length: 256 }, async () => {
      while (next < n) {
        const k = next++;
        const id = randomUUID();
        const items = [
          { productId: `p${k % 100}`, quantity: 1 },
          { productId: `p${(k + 7) % 100}`, quantity: 2 },
        ];
        // Closed loop: each of the 256 lanes waits for its order to end before the next.
        open++;
        const ended = new Promise<void>((resolve) => {
          void store
            .watch(id, (v) => {
              if (v.status === 'COMPLETED' || v.status === 'CANCELLED' || v.status === 'REJECTED') resolve();
            })
            .then((unwatch) => ended.then(unwatch));
        });
        await acceptOrder({ ...deps, newOrderId: () => id }, { userId: `u${k % 1000}`, items });
        await ended;
        open--;
      }
    }),
  );
  if (!done()) await once(process, 'beforeExit');
  // The watcher hears the end before the host has sent its last outbox: let it finish.
  await (broker as { idle?: () => Promise<void> }).idle?.();
  await new Promise((resolve) => setImmediate(resolve));
}

const mb = (b: number) => +(b / 1048576).toFixed(1);
await run(2_000); // warm-up
gc();
const before = process.memoryUsage();
const t0 = performance.now();
await run(N);
const seconds = (performance.now() - t0) / 1000;
gc();
gc();
const after = process.memoryUsage();
const counts = await store.statusCounts();
console.log(
  JSON.stringify({
    orders: N,
    seconds: +seconds.toFixed(1),
    ordersPerSec: Math.round(N / seconds),
    heapBeforeMB: mb(before.heapUsed),
    heapAfterMB: mb(after.heapUsed),
    rssBeforeMB: mb(before.rss),
    rssAfterMB: mb(after.rss),
    heapBytesPerRetainedOrder: Math.round((after.heapUsed - before.heapUsed) / N),
    inFlightMailboxes: system.order?.host.inFlight ?? null,
    completed: counts.COMPLETED,
    live: counts.PENDING + counts.RESERVING + counts.ORDERING + counts.PAYING + counts.COMPENSATING,
  }),
);
await system.close();
