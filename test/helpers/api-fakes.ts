/**
 * Small fakes of the Store and Broker ports for the api tests: only what the api calls,
 * atomic where the port promises it, with switches to make each call fail.
 */
import type { Broker } from '../../src/ports/broker.ts';
import type { CreateOutcome, NewOrder, Product, StatusListener, Store, User } from '../../src/ports/store.ts';
import { OrderStatuses, type OrderStatus, type OrderView } from '../../src/schemas.ts';
import type { OutMessage } from '../../src/topics.ts';

const unused = (name: string) => (): never => {
  throw new Error(`${name} is not used by the api`);
};

export interface FakeStore extends Store {
  orders: Map<string, NewOrder>;
  views: Map<string, OrderView>;
  products: Map<string, Product>;
  users: Map<string, User>;
  fail: { create: boolean; read: boolean; ping: boolean };
  /** Replaces an order's view and tells its watchers, as a saga commit would. */
  setStatus(orderId: string, status: OrderStatus): OrderView;
  watchers(orderId: string): number;
  /** Resolves once someone watches this order. */
  watched(orderId: string): Promise<void>;
  /** Resolves once nobody watches this order any more. */
  unwatched(orderId: string): Promise<void>;
}

export function createFakeStore(): FakeStore {
  const orders = new Map<string, NewOrder>();
  const views = new Map<string, OrderView>();
  const keys = new Map<string, { orderId: string; bodyHash: string }>();
  const products = new Map<string, Product>();
  const users = new Map<string, User>();
  const listeners = new Map<string, Set<StatusListener>>();
  const waiters: { orderId: string; when: 'watched' | 'unwatched'; resolve: () => void }[] = [];
  const fail = { create: false, read: false, ping: false };

  const count = (orderId: string) => listeners.get(orderId)?.size ?? 0;
  const settle = () => {
    for (const w of [...waiters]) {
      if ((w.when === 'watched') === count(w.orderId) > 0) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const read = () => {
    if (fail.read) throw new Error('store read failed');
  };

  return {
    orders,
    views,
    products,
    users,
    fail,
    async statusCounts() {
      read();
      const counts = Object.fromEntries(OrderStatuses.map((st) => [st, 0])) as Record<OrderStatus, number>;
      for (const v of views.values()) counts[v.status]++;
      return counts;
    },
    async putProduct(p) {
      products.set(p.productId, { ...p });
    },
    async getProducts(ids) {
      read();
      return ids.map((id) => products.get(id) ?? null);
    },
    async putUser(u) {
      users.set(u.userId, { ...u });
    },
    async getUser(id) {
      read();
      return users.get(id) ?? null;
    },
    seed: unused('seed'),
    reserve: unused('reserve'),
    release: unused('release'),
    charge: unused('charge'),
    refund: unused('refund'),
    reserveChecked: unused('reserveChecked'),
    chargeChecked: unused('chargeChecked'),
    withLocks: unused('withLocks'),
    async createOrder(order): Promise<CreateOutcome> {
      if (fail.create) throw new Error('ECONNREFUSED 127.0.0.1:6379');
      // No await before the check and the write: atomic, like the real adapters.
      const claim = order.idempotency && keys.get(order.idempotency.key);
      if (claim)
        return { created: false, orderId: claim.orderId, sameBody: claim.bodyHash === order.idempotency!.bodyHash };
      if (order.idempotency)
        keys.set(order.idempotency.key, { orderId: order.orderId, bodyHash: order.idempotency.bodyHash });
      orders.set(order.orderId, structuredClone(order));
      views.set(order.orderId, structuredClone(order.view));
      return { created: true };
    },
    async idempotencyClaim(key) {
      read();
      return keys.get(key)?.orderId ?? null;
    },
    async getOrder(orderId) {
      read();
      const view = views.get(orderId);
      return view ? structuredClone(view) : null;
    },
    loadSaga: unused('loadSaga'),
    commitSaga: unused('commitSaga'),
    markOutboxSent: unused('markOutboxSent'),
    claimDue: unused('claimDue'),
    retainEffects: unused('retainEffects'),
    async watch(orderId, listener) {
      read();
      const set = listeners.get(orderId) ?? new Set();
      listeners.set(orderId, set);
      set.add(listener);
      settle();
      return () => {
        set.delete(listener);
        settle();
      };
    },
    setStatus(orderId, status) {
      const old = views.get(orderId);
      if (!old) throw new Error(`no order ${orderId}`);
      const view: OrderView = { ...old, status, history: [...old.history, { status, at: new Date(0).toISOString() }] };
      if (status === 'CANCELLED') view.reason = { code: 'TIMEOUT', message: 'timed out' };
      views.set(orderId, view);
      for (const l of listeners.get(orderId) ?? []) l(structuredClone(view));
      return view;
    },
    watchers: count,
    watched(orderId) {
      return new Promise((resolve) => {
        waiters.push({ orderId, when: 'watched', resolve });
        settle();
      });
    },
    unwatched(orderId) {
      return new Promise((resolve) => {
        waiters.push({ orderId, when: 'unwatched', resolve });
        settle();
      });
    },
    async ping() {
      if (fail.ping) throw new Error('store down');
    },
    async close() {},
  };
}

export interface FakeBroker extends Broker {
  published: OutMessage[];
  fail: { publish: boolean; ping: boolean };
}

export function createFakeBroker(): FakeBroker {
  const published: OutMessage[] = [];
  const fail = { publish: false, ping: false };
  return {
    published,
    fail,
    async publish(messages) {
      if (fail.publish) throw new Error('broker did not confirm');
      published.push(...messages);
    },
    subscribe: unused('subscribe'),
    async ping() {
      if (fail.ping) throw new Error('broker down');
    },
    async close() {},
  };
}
