/**
 * Simulation: two saga hosts (two order roles, as two processes would be) and the workers
 * share one memory broker and one store, either as two processes of every role (one
 * group) or with a group per role, under every fault at once: duplicates, crashes
 * before a commit, reordering, failed and partly landed publishes, zombie handlers still
 * running on a host that lost their partition, and spans of a partition re-read by the
 * other host after later messages were handled. Every order must end terminal, stock and
 * balances must be exact, and an order that ended never changes afterwards.
 * A failure prints the seed; replay with SIM_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { MemoryBrokerStats } from '../../adapters/broker/memory.ts';
import type { MemoryFaults } from '../../src/config.ts';
import type { Product, User } from '../../src/ports/store.ts';
import { seededRng } from '../../src/random.ts';
import { isTerminal } from '../../src/schemas.ts';
import { Topics } from '../../src/topics.ts';
import { placeAll, simCatalogue, simOrderArbitrary, type SimOrder } from '../helpers/sim-orders.ts';
import { checkInvariants, createHarness, type Harness, type HarnessOptions } from '../helpers/harness.ts';

const products: Product[] = [
  { productId: 'hot', stock: 10, price: 700 },
  { productId: 'warm', stock: 40, price: 1_250 },
  { productId: 'cold', stock: 400, price: 99 },
];
const users: User[] = [
  { userId: 'rich', balance: 1_000_000_000 },
  { userId: 'mid', balance: 40_000 },
  { userId: 'poor', balance: 500 },
];
const catalogue = simCatalogue(products, users);
const { productIds, userIds } = catalogue;

/**
 * Where the roles run: two processes of every role, members of the one group such a
 * process consumes in; or a group per role, the two saga hosts beside a stock worker and a
 * payment worker.
 */
const Layouts = {
  'one group': {},
  'a group per role': { roles: ['stock', 'order'], extraHostRoles: ['order', 'payment'] },
} as const satisfies Record<string, Pick<HarnessOptions, 'roles' | 'extraHostRoles'>>;
type Layout = keyof typeof Layouts;

/** Every fault of MEMORY_FAULTS at its own rate, the seed shared with the scenario. */
interface Scenario extends MemoryFaults {
  layout: Layout;
  sweepBetween: number;
  orders: SimOrder[];
}

/** Per order, the terminal status first seen; a later look that differs is a violation. */
class TerminalWatch {
  readonly ended = new Map<string, string>();
  readonly changed: string[] = [];

  async look(h: Harness): Promise<void> {
    for (const v of await h.views()) {
      if (!isTerminal(v.status)) {
        if (this.ended.has(v.orderId)) this.changed.push(`${v.orderId}: ${this.ended.get(v.orderId)} -> ${v.status}`);
        continue;
      }
      const got = `${v.status}:${v.reason?.code ?? ''}`;
      const was = this.ended.get(v.orderId);
      if (was === undefined) this.ended.set(v.orderId, got);
      else if (was !== got) this.changed.push(`${v.orderId}: ${was} -> ${got}`);
    }
  }
}

async function runScenario(s: Scenario): Promise<MemoryBrokerStats & { byHost: number[] }> {
  const rng = seededRng(s.seed ^ 0x2b057);
  const { dup, crash, reorder, pubfail, partial, zombie, span } = s;
  const watch = new TerminalWatch();
  const h = await createHarness({
    seed: s.seed,
    stepTimeoutMs: 200,
    sagaHosts: 2,
    ...Layouts[s.layout],
    faults: { dup, crash, reorder, pubfail, partial, zombie, span },
    beforeDelivery: async (harness) => {
      if (rng.chance(0.02)) await watch.look(harness);
      if (!rng.chance(s.sweepBetween)) return;
      harness.clock.advance(1 + rng.int(120));
      await harness.sagaHosts[rng.int(harness.sagaHosts.length)]!.order!.sweeper.tick();
    },
  });
  const announced = new Map<string, Set<string>>();
  await h.broker.subscribe({
    group: 'downstream',
    topics: [Topics.orderCompleted, Topics.orderCancel],
    handler: async (d) => {
      const p = d.value as { orderId: string; status?: string; reason?: { code: string } };
      const seen = announced.get(p.orderId) ?? new Set<string>();
      seen.add(p.status ? `${p.status}:${p.reason!.code}` : 'COMPLETED:');
      announced.set(p.orderId, seen);
    },
  });
  const replay = `seed ${s.seed}, ${s.layout} (replay: SIM_SEED=${s.seed})`;
  try {
    await h.store.seed(products, users);
    await placeAll(h, catalogue, s.orders);
    await h.settle();
    await watch.look(h);
    assert.deepEqual(await checkInvariants(h, products, users), [], `${replay}: invariants`);
    assert.deepEqual(watch.changed, [], `${replay}: an ended order changed`);
    for (const v of await h.views()) {
      const got = `${v.status}:${v.reason?.code ?? ''}`;
      assert.deepEqual([...(announced.get(v.orderId) ?? [])], [got], `${replay}: ${v.orderId} announced as it ended`);
    }
    return { ...h.broker.stats(), byHost: [...h.deliveriesByHost] };
  } finally {
    await h.close();
  }
}

const orderArb = simOrderArbitrary(catalogue, 4);

const scenarioArb = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  layout: fc.constantFrom(...(Object.keys(Layouts) as Layout[])),
  dup: fc.constantFrom(0.02, 0.1),
  crash: fc.constantFrom(0.01, 0.04),
  reorder: fc.constantFrom(0.1, 0.3),
  pubfail: fc.constantFrom(0.01, 0.05),
  partial: fc.constantFrom(0.02, 0.1),
  zombie: fc.constantFrom(0.01, 0.04),
  span: fc.constantFrom(0.02, 0.1),
  sweepBetween: fc.constantFrom(0, 0.02, 0.1),
  orders: fc.array(orderArb, { minLength: 1, maxLength: 30 }),
});

describe('saga simulation: two saga hosts sharing one broker and store', () => {
  const replay = process.env.SIM_SEED ? Number(process.env.SIM_SEED) : undefined;

  it('ends every order terminal, exact and unchanging, with every fault on, over random orders and seeds', async () => {
    const total = { zombies: 0, spans: 0, publishPartial: 0, hostsBusy: 0, runs: 0 };
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        const stats = await runScenario(s);
        total.runs++;
        total.zombies += stats.zombies;
        total.spans += stats.spans;
        total.publishPartial += stats.publishPartial;
        if (stats.byHost.every((n) => n > 0)) total.hostsBusy++;
      }),
      { numRuns: Number(process.env.SIM_RUNS ?? 40), ...(replay ? { seed: replay } : {}) },
    );
    // The faults this simulation is about did happen, and both hosts handled messages.
    assert.ok(total.zombies > 0 && total.spans > 0 && total.publishPartial > 0, JSON.stringify(total));
    assert.ok(total.hostsBusy > total.runs / 2, JSON.stringify(total));
  });

  for (const layout of Object.keys(Layouts) as Layout[])
    it(`holds for one large run with every fault on at once, ${layout}`, async () => {
      await largeRun(layout);
    });

  async function largeRun(layout: Layout): Promise<void> {
    const seed = replay ?? 20261129;
    const rng = seededRng(seed);
    const orders = Array.from({ length: 200 }, () => ({
      user: rng.int(userIds.length),
      lines: [...new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.int(productIds.length)))].map((product) => ({
        product,
        quantity: 1 + rng.int(4),
      })),
    }));
    const stats = await runScenario({
      seed,
      layout,
      dup: 0.1,
      crash: 0.02,
      reorder: 0.3,
      pubfail: 0.03,
      partial: 0.05,
      zombie: 0.02,
      span: 0.05,
      sweepBetween: 0.01,
      orders,
    });
    assert.ok(stats.zombies > 0 && stats.spans > 0 && stats.publishPartial > 0, JSON.stringify(stats));
    assert.ok(
      stats.byHost.every((n) => n > 0),
      `both hosts handled messages: ${stats.byHost.join(', ')}`,
    );
  }
});
