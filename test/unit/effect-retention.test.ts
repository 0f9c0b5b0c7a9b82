/**
 * The order role starts the retention clock of finished orders' effect records
 * (rule `idempotent-effects`, docs/architecture.md): through the whole system on a manual clock, in batches, and a failed
 * round is logged and retried by the next tick.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { createMemoryStore } from '../../adapters/store/memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { StoreUnavailableError } from '../../src/errors.ts';
import { silentLogger } from '../../src/log.ts';
import { createEffectRetention } from '../../src/saga/effect-retention.ts';
import { createHarness, type Harness } from '../helpers/harness.ts';
import { Recorder } from '../helpers/wait.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The harness keeps finished orders 10 minutes; effect records twice that. */
const EFFECT_RETENTION_MS = 2 * 10 * 60_000;

describe('effect retention in the order role', () => {
  it('keeps a finished order’s effect records for the effect retention from its end, then frees them', async () => {
    h = await createHarness({ seed: 5 });
    await h.store.seed([{ productId: 'p1', stock: 10, price: 5 }], [{ userId: 'u1', balance: 100 }]);
    const orderId = await h.placeOrder('u1', [{ productId: 'p1', quantity: 2 }]);
    await h.settle();
    assert.equal((await h.store.getOrder(orderId))?.status, 'COMPLETED');
    assert.equal(h.store.sizes().retentionEntries, 1);
    const ended = h.clock.now();

    assert.equal(await h.system.order!.retention.tick(), 1);
    assert.equal(h.store.sizes().retentionEntries, 0);
    h.clock.set(ended + EFFECT_RETENTION_MS - 1);
    assert.deepEqual(await h.store.charge(orderId, 'u1', 10), { ok: true }, 'a redelivered charge repeats its reply');
    assert.equal((await h.store.getUser('u1'))?.balance, 90, 'and charges nothing again');
    assert.equal(h.store.sizes().effects, 2);
    h.clock.advance(1);
    await h.store.ping();
    assert.equal(h.store.sizes().effects, 0);
  });

  it('handles every due entry in batches', async () => {
    const clock = new ManualClock();
    const store = createMemoryStore({ clock, orderRetentionMs: 1_000 });
    for (let i = 0; i < 5; i++) {
      const view = {
        orderId: `o${i}`,
        userId: 'u',
        items: [{ productId: 'p', quantity: 1 }],
        status: 'PENDING' as const,
        history: [],
      };
      await store.createOrder({ orderId: `o${i}`, view, snapshot: {}, wakeAt: 0 });
      await store.commitSaga(`o${i}`, 1, {
        snapshot: {},
        outbox: [],
        view: { ...view, status: 'REJECTED' },
        wakeAt: null,
        terminal: true,
      });
    }
    const retention = createEffectRetention({ store, clock, logger: silentLogger, leaseMs: 1_000, batch: 2 });
    assert.equal(await retention.tick(), 5);
    assert.equal(await retention.tick(), 0);
  });

  it('logs a failed round and tries again on the next tick', async () => {
    const calls = new Recorder<number>();
    const logged = new Recorder<Record<string, unknown>>();
    const logger = pino(
      { level: 'warn' },
      { write: (s: string) => logged.push(JSON.parse(s) as Record<string, unknown>) },
    );
    const store = {
      async retainEffects(now: number): Promise<number> {
        calls.push(now);
        if (calls.items.length === 1) throw new StoreUnavailableError('down for this test');
        return 0;
      },
    };
    const retention = createEffectRetention({ store, clock: new ManualClock(), logger, leaseMs: 1_000 });
    retention.start(1);
    try {
      await calls.count(2, 'rounds');
      const [line] = await logged.count(1, 'warnings');
      assert.equal(line?.code, 'STORE_UNAVAILABLE');
      assert.match(String(line?.msg), /effect retention failed/);
    } finally {
      await retention.stop();
    }
  });
});
