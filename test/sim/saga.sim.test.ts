/**
 * Simulation: random orders over random seeds on the memory broker with duplicates,
 * crashes before commit, host crashes between snapshot and send, failed publishes and
 * cross-topic reordering, with deadlines firing in the middle of the traffic. Every
 * order must end terminal and every invariant of docs/api.md must hold exactly.
 * A failure prints the seed; replay with SIM_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Product, User } from '../../src/ports/store.ts';
import { seededRng } from '../../src/random.ts';
import { Topics } from '../../src/topics.ts';
import { placeAll, simCatalogue, simOrderArbitrary, type SimOrder } from '../helpers/sim-orders.ts';
import { checkInvariants, createHarness } from '../helpers/harness.ts';

const products: Product[] = [
  { productId: 'hot', stock: 12, price: 700 },
  { productId: 'warm', stock: 40, price: 1_250 },
  { productId: 'cold', stock: 400, price: 99 },
  { productId: 'pricey', stock: 30, price: 4_000_000_000_000_000 }, // three of these pass 2^53-1: LIMIT_EXCEEDED
];
const users: User[] = [
  { userId: 'rich', balance: 9_000_000_000_000_000 },
  { userId: 'mid', balance: 60_000 },
  { userId: 'poor', balance: 500 },
];
const catalogue = simCatalogue(products, users);
const { productIds, userIds } = catalogue;

const orderArb = simOrderArbitrary(catalogue);

interface Scenario {
  seed: number;
  dup: number;
  crash: number;
  reorder: number;
  pubfail: number;
  /** Probability that the sweeper runs (and time moves) before a delivery. */
  sweepBetween: number;
  orders: SimOrder[];
}

async function runScenario(s: Scenario): Promise<void> {
  const rng = seededRng(s.seed ^ 0x5eed);
  const h = await createHarness({
    seed: s.seed,
    stepTimeoutMs: 200,
    faults: { dup: s.dup, crash: s.crash, reorder: s.reorder, pubfail: s.pubfail },
    beforeDelivery: async (harness) => {
      if (!rng.chance(s.sweepBetween)) return;
      harness.clock.advance(1 + rng.int(120));
      await harness.system.order!.sweeper.tick();
    },
  });
  try {
    await h.store.seed(products, users);
    await placeAll(h, catalogue, s.orders);
    await h.settle();
    const problems = await checkInvariants(h, products, users);
    assert.deepEqual(problems, [], `seed ${s.seed} broke invariants (replay: SIM_SEED=${s.seed})`);
  } finally {
    await h.close();
  }
}

const scenarioArb = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  dup: fc.constantFrom(0, 0.05, 0.2),
  crash: fc.constantFrom(0, 0.05, 0.15),
  reorder: fc.constantFrom(0, 0.1, 0.4),
  pubfail: fc.constantFrom(0, 0.02, 0.1),
  sweepBetween: fc.constantFrom(0, 0.02, 0.1),
  orders: fc.array(orderArb, { minLength: 1, maxLength: 40 }),
});

describe('saga simulation under faults', () => {
  const replay = process.env.SIM_SEED ? Number(process.env.SIM_SEED) : undefined;

  it('ends every order terminal with exact conservation, over random orders, seeds and faults', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, (s) => runScenario(s)),
      { numRuns: Number(process.env.SIM_RUNS ?? 60), ...(replay ? { seed: replay } : {}) },
    );
  });

  it('holds for one large mixed run with every fault on at once', async () => {
    const rng = seededRng(replay ?? 20261124);
    const orders = Array.from({ length: 300 }, () => ({
      user: rng.int(userIds.length),
      lines: [...new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.int(productIds.length)))].map((product) => ({
        product,
        quantity: 1 + rng.int(4),
      })),
    }));
    await runScenario({
      seed: replay ?? 20261124,
      dup: 0.1,
      crash: 0.05,
      reorder: 0.3,
      pubfail: 0.03,
      sweepBetween: 0.01,
      orders,
    });
  });

  it('gives each uncontended order the outcome its content decides, announced downstream once per status, whatever the delivery faults', async () => {
    // Ample stock and balances and no time passing: nothing may end by TIMEOUT, so a
    // lost outbox or message (which only a deadline would rescue) fails here.
    const catalogue: Product[] = [
      { productId: 'a', stock: 1_000_000, price: 300 },
      { productId: 'b', stock: 1_000_000, price: 1_999 },
      { productId: 'max', stock: 1_000_000, price: Number.MAX_SAFE_INTEGER },
    ];
    const accounts: User[] = [
      { userId: 'rich', balance: 1_000_000_000 },
      { userId: 'broke', balance: 0 },
    ];
    const pids = ['a', 'b', 'max', 'ghost'];
    const uids = ['rich', 'broke', 'nobody'];
    const expected = (userId: string, items: { productId: string; quantity: number }[]) => {
      if (items.some((i) => i.productId === 'ghost')) return 'REJECTED:UNKNOWN_PRODUCT';
      if (userId === 'nobody') return 'CANCELLED:UNKNOWN_USER';
      const total = items.reduce(
        (t, i) => t + i.quantity * catalogue.find((p) => p.productId === i.productId)!.price,
        0,
      );
      if (total > Number.MAX_SAFE_INTEGER) return 'CANCELLED:LIMIT_EXCEEDED';
      if (userId === 'broke' || total > 1_000_000_000) return 'CANCELLED:INSUFFICIENT_BALANCE';
      return 'COMPLETED';
    };
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          dup: fc.constantFrom(0, 0.1, 0.3),
          crash: fc.constantFrom(0, 0.1, 0.3),
          reorder: fc.constantFrom(0, 0.2, 0.5),
          orders: fc.array(
            fc.record({
              user: fc.integer({ min: 0, max: uids.length - 1 }),
              lines: fc.uniqueArray(
                fc.record({
                  product: fc.integer({ min: 0, max: pids.length - 1 }),
                  quantity: fc.integer({ min: 1, max: 3 }),
                }),
                { minLength: 1, maxLength: 3, selector: (l) => l.product },
              ),
            }),
            { minLength: 1, maxLength: 25 },
          ),
        }),
        async (s) => {
          const h = await createHarness({ seed: s.seed, faults: { dup: s.dup, crash: s.crash, reorder: s.reorder } });
          const announced = new Map<string, string[]>();
          await h.broker.subscribe({
            group: 'downstream',
            topics: [Topics.orderCompleted, Topics.orderCancel],
            handler: async (d) => {
              const p = d.value as { orderId: string; status?: string; reason?: { code: string } };
              const list = announced.get(p.orderId) ?? [];
              list.push(p.status ? `${p.status}:${p.reason!.code}` : 'COMPLETED');
              announced.set(p.orderId, list);
            },
          });
          try {
            await h.store.seed(catalogue, accounts);
            const wanted = new Map<string, string>();
            for (const o of s.orders) {
              const items = o.lines.map((l) => ({ productId: pids[l.product]!, quantity: l.quantity }));
              wanted.set(await h.placeOrder(uids[o.user]!, items), expected(uids[o.user]!, items));
            }
            await h.broker.drain();
            for (const v of await h.views()) {
              const got = v.reason ? `${v.status}:${v.reason.code}` : v.status;
              assert.equal(got, wanted.get(v.orderId), `seed ${s.seed}: ${v.orderId} (replay: SIM_SEED=${s.seed})`);
              assert.ok(announced.get(v.orderId)?.length, `${v.orderId} announced downstream`);
              assert.deepEqual(new Set(announced.get(v.orderId)), new Set([got]), `${v.orderId} announced as it ended`);
            }
          } finally {
            await h.close();
          }
        },
      ),
      { numRuns: Number(process.env.SIM_RUNS ?? 60), ...(replay ? { seed: replay } : {}) },
    );
  });

  it('sells exactly the stock when 200 orders race for 50 units', async () => {
    const h = await createHarness({ seed: 7, faults: { dup: 0.05, reorder: 0.2 } });
    try {
      const racers: User[] = Array.from({ length: 200 }, (_, i) => ({ userId: `buyer${i}`, balance: 10_000 }));
      await h.store.seed([{ productId: 'limited', stock: 50, price: 100 }], racers);
      await Promise.all(racers.map((u) => h.placeOrder(u.userId, [{ productId: 'limited', quantity: 1 }])));
      await h.settle();
      const views = await h.views();
      assert.equal(views.filter((v) => v.status === 'COMPLETED').length, 50);
      assert.equal(views.filter((v) => v.status === 'REJECTED').length, 150);
      assert.ok(views.filter((v) => v.status === 'REJECTED').every((v) => v.reason?.code === 'OUT_OF_STOCK'));
      assert.equal((await h.store.getProducts(['limited']))[0]?.stock, 0);
      assert.deepEqual(await checkInvariants(h, [{ productId: 'limited', stock: 50, price: 100 }], racers), []);
    } finally {
      await h.close();
    }
  });
});
