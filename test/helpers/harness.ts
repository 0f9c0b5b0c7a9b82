/**
 * A deterministic system for saga tests: the memory broker in manual mode (a seeded
 * scheduler decides every delivery), the memory store, a manual clock, fast backoff and
 * the sweeper ticked by the test. `settle()` runs it until every order is terminal.
 * With `sagaHosts: 2`, a second order role (another saga host, as another process would
 * be) shares the broker, the store and the clock, and partitions move between the two.
 */
import { createMemoryBroker, type MemoryBroker } from '../../adapters/broker/memory.ts';
import { createMemoryStore, type MemoryStore } from '../../adapters/store/memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { loadConfig, noFaults, type MemoryFaults } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import type { Broker, Handler } from '../../src/ports/broker.ts';
import type { Product, User } from '../../src/ports/store.ts';
import { FastBackoff } from '../../src/retry.ts';
import { acceptOrder } from '../../src/saga/accept.ts';
import { isTerminal, type Item, type OrderView } from '../../src/schemas.ts';
import { startSystem, type Role, type System } from '../../src/system.ts';
import { BrokerUnavailableError } from '../../src/errors.ts';

export interface HarnessOptions {
  seed?: number;
  faults?: Partial<MemoryFaults>;
  stepTimeoutMs?: number;
  roles?: Role[];
  /** How many systems run the order role (the saga host); 1 by default. */
  sagaHosts?: number;
  /**
   * The roles of each saga host after the first. Default: the first's roles when it hosts
   * every consuming role (so all are members of the one group of such processes), else `order`.
   */
  extraHostRoles?: Role[];
  /** Runs before each delivery: lets a test interleave sweeper ticks and clock moves with message handling. */
  beforeDelivery?: (h: Harness) => Promise<void>;
  /** Default: silent. */
  logger?: Logger;
}

export interface Harness {
  clock: ManualClock;
  broker: MemoryBroker;
  store: MemoryStore;
  system: System;
  /** Every system running the order role, `system` first. */
  sagaHosts: System[];
  /** Deliveries handled by each of `sagaHosts` (by index), of any topic. */
  deliveriesByHost: number[];
  stepTimeoutMs: number;
  seed: number;
  placeOrder(userId: string, items: Item[], opts?: { publish?: boolean }): Promise<string>;
  /** Delivers everything, moves time past deadlines and sweeps, until all orders are terminal. */
  settle(maxRounds?: number): Promise<void>;
  views(): Promise<OrderView[]>;
  orderIds: string[];
  close(): Promise<void>;
}

/** A broker that never confirms a publish: an order.start lost on its way. */
const unreachable: Broker = {
  publish: async () => {
    throw new BrokerUnavailableError();
  },
  subscribe: async () => ({ close: async () => {} }),
  ping: async () => {},
  close: async () => {},
};

/** Wraps a broker so a hook runs before every delivery (in the scheduler's order). */
function interleaving(broker: Broker, before: () => Promise<void>): Broker {
  return {
    ...broker,
    publish: (m) => broker.publish(m),
    ping: () => broker.ping(),
    close: () => broker.close(),
    subscribe: (o) => {
      const handler: Handler = async (d) => {
        await before();
        await o.handler(d);
      };
      return broker.subscribe({ ...o, handler });
    },
  };
}

export async function createHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const seed = opts.seed ?? 1;
  const stepTimeoutMs = opts.stepTimeoutMs ?? 1_000;
  const clock = new ManualClock();
  const faults: MemoryFaults = { ...noFaults(seed), ...opts.faults };
  const broker = createMemoryBroker({
    mode: 'manual',
    faults,
    seed,
    clock,
    redelivery: FastBackoff.redelivery,
    partitions: 4,
  });
  const store = createMemoryStore({ clock, orderRetentionMs: 10 * 60_000 });
  const config = {
    ...loadConfig({}),
    stepTimeoutMs,
    seedDemo: false,
    memoryFaults: faults,
  };
  const orderIds: string[] = [];
  let counter = 0;
  // eslint-disable-next-line prefer-const
  let h: Harness;
  const deliveriesByHost: number[] = [];
  const start = (roles: Role[], host: number): Promise<System> => {
    deliveriesByHost[host] = 0;
    const counted = interleaving(broker, async () => {
      deliveriesByHost[host]!++;
      await opts.beforeDelivery?.(h);
    });
    return startSystem({
      config,
      roles,
      clock,
      broker: counted,
      store,
      backoff: FastBackoff,
      autoSweep: false,
      leaseMs: stepTimeoutMs,
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  };
  const roles = opts.roles ?? ['stock', 'order', 'payment'];
  const system = await start(roles, 0);
  const sagaHosts = system.order ? [system] : [];
  const everyRole = (['stock', 'order', 'payment'] as const).every((r) => roles.includes(r));
  const extraHostRoles = opts.extraHostRoles ?? (everyRole ? roles : ['order']);
  for (let i = 1; i < (opts.sagaHosts ?? 1); i++) sagaHosts.push(await start(extraHostRoles, i));

  h = {
    clock,
    broker,
    store,
    system,
    sagaHosts,
    deliveriesByHost,
    stepTimeoutMs,
    seed,
    orderIds,
    /** Accepts an order exactly as the api does (one atomic write, then the publish). */
    async placeOrder(userId, items, o = {}) {
      const orderId = `o-${seed}-${++counter}`;
      const deps = {
        store,
        broker: o.publish === false ? unreachable : broker,
        clock,
        stepTimeoutMs,
        compensationRetry: FastBackoff.compensation,
      };
      const outcome = await acceptOrder({ ...deps, newOrderId: () => orderId }, { userId, items });
      // 'unpublished' is the api's 503 with an orderId: the PENDING deadline ends the order.
      if (outcome.kind !== 'accepted' && outcome.kind !== 'unpublished')
        throw new Error(`order not accepted: ${outcome.kind}`);
      orderIds.push(orderId);
      return orderId;
    },
    async settle(maxRounds = 200) {
      for (let round = 0; round < maxRounds; round++) {
        await broker.drain();
        const views = await h.views();
        if (views.every((v) => isTerminal(v.status))) return;
        clock.advance(stepTimeoutMs);
        for (const host of sagaHosts) await host.order!.sweeper.tick();
      }
      const stuck = (await h.views()).filter((v) => !isTerminal(v.status)).map((v) => `${v.orderId}:${v.status}`);
      throw new Error(`seed ${seed}: orders not terminal after ${maxRounds} rounds: ${stuck.slice(0, 10).join(', ')}`);
    },
    async views() {
      const all = await Promise.all(orderIds.map((id) => store.getOrder(id)));
      return all.filter((v): v is OrderView => v !== null);
    },
    async close() {
      for (const host of sagaHosts.slice(1)) await host.close();
      await system.close();
      await broker.close();
      await store.close();
    },
  };
  return h;
}

/**
 * The invariants of docs/api.md, exactly: every order terminal; for every product, final
 * stock = initial - quantities of COMPLETED orders; for every user, final balance =
 * initial - totalPrice of COMPLETED orders; nothing below zero. Returns the broken ones.
 */
export async function checkInvariants(h: Harness, products: Product[], users: User[]): Promise<string[]> {
  const problems: string[] = [];
  const views = await h.views();
  if (views.length !== h.orderIds.length) problems.push(`${h.orderIds.length - views.length} orders have no record`);
  const sold = new Map<string, number>();
  const spent = new Map<string, number>();
  for (const v of views) {
    if (!isTerminal(v.status)) problems.push(`${v.orderId} is ${v.status}`);
    if (v.status === 'COMPLETED') {
      for (const i of v.items) sold.set(i.productId, (sold.get(i.productId) ?? 0) + i.quantity);
      spent.set(v.userId, (spent.get(v.userId) ?? 0) + (v.totalPrice ?? NaN));
    } else if (v.status !== 'PENDING' && !v.reason) {
      problems.push(`${v.orderId} is ${v.status} without a reason`);
    }
  }
  const finalProducts = await h.store.getProducts(products.map((p) => p.productId));
  products.forEach((p, i) => {
    const expected = p.stock - (sold.get(p.productId) ?? 0);
    const actual = finalProducts[i]?.stock;
    if (actual !== expected) problems.push(`product ${p.productId}: stock ${actual}, expected ${expected}`);
  });
  for (const u of users) {
    const expected = u.balance - (spent.get(u.userId) ?? 0);
    const actual = (await h.store.getUser(u.userId))?.balance;
    if (actual !== expected) problems.push(`user ${u.userId}: balance ${actual}, expected ${expected}`);
  }
  return problems;
}
