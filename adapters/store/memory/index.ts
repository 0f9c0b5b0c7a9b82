/**
 * The in-memory Store: the same answers as the Redis adapter's Lua scripts, so a green
 * memory run means something (rule `ports-and-adapters`, docs/architecture.md). Every
 * method does all its checks and writes synchronously, which makes it atomic; values are
 * copied in and out. The pieces live beside it, one concept per file.
 */
import { systemClock, type Clock } from '../../../src/clock.ts';
import { StoreUnavailableError } from '../../../src/errors.ts';
import { orderMismatch, type OrderCheck } from '../../../src/order-check.ts';
import type { Checked, Store } from '../../../src/ports/store.ts';
import * as catalogue from './catalogue.ts';
import * as effects from './effects.ts';
import { LockTable } from './locks.ts';
import * as orders from './orders.ts';
import * as retentionIndex from './retention.ts';
import { MemoryState } from './state.ts';
import { Watchers } from './watchers.ts';

export interface MemoryStoreOptions {
  clock?: Clock;
  /** How long a finished order (row, view, idempotency key) stays readable. */
  orderRetentionMs: number;
  /** How long an effect record or tombstone lives after its order's terminal commit; default 2 × orderRetentionMs. */
  effectRetentionMs?: number;
}

export interface MemoryStore extends Store {
  /** Failure injection for tests: while false every method rejects with StoreUnavailableError (nothing written). */
  setAvailable(up: boolean): void;
  /** What is held right now (expired records count until a call frees them), for memory-growth tests. */
  sizes(): Record<'orders' | 'effects' | 'idempotencyKeys' | 'indexEntries' | 'retentionEntries' | 'watchers', number>;
}

function retention(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  return value;
}

export function createMemoryStore(opts: MemoryStoreOptions): MemoryStore {
  const orderRetentionMs = retention(opts.orderRetentionMs, 'orderRetentionMs');
  // Effect records must outlive order records: a redelivered command for an order that
  // is still known must find its record, or it would act twice (rule `idempotent-effects`).
  const effectRetentionMs = retention(opts.effectRetentionMs ?? 2 * orderRetentionMs, 'effectRetentionMs');
  const state = new MemoryState(opts.clock ?? systemClock, orderRetentionMs, effectRetentionMs);
  const locks = new LockTable();
  const watchers = new Watchers();
  let up = true;

  /** Every method starts here: refuse while down (before any write), then free what expired. */
  function begin(): void {
    if (!up) throw new StoreUnavailableError('memory store is down (injected)');
    state.begin();
  }

  /** The effect, run only if the stored order agrees with the check (one synchronous step, so atomic). */
  function checked<T>(check: OrderCheck, effect: () => T): Checked<T> {
    const view = orders.getOrder(state, check.orderId);
    if (view === null || orderMismatch(view, check) !== null) return { agreed: false, view };
    return { agreed: true, outcome: effect() };
  }

  return {
    async putProduct(product) {
      begin();
      catalogue.putProduct(state, product);
    },
    async getProducts(productIds) {
      begin();
      return catalogue.getProducts(state, productIds);
    },
    async putUser(user) {
      begin();
      catalogue.putUser(state, user);
    },
    async getUser(userId) {
      begin();
      return catalogue.getUser(state, userId);
    },
    async seed(products, users) {
      begin();
      return catalogue.seed(state, products, users);
    },

    async reserve(orderId, items) {
      begin();
      return effects.reserve(state, orderId, items);
    },
    async release(orderId, _items) {
      begin();
      return effects.release(state, orderId);
    },
    async charge(orderId, userId, amount) {
      begin();
      return effects.charge(state, orderId, userId, amount);
    },
    async refund(orderId, _userId) {
      begin();
      return effects.refund(state, orderId);
    },
    async reserveChecked(check) {
      begin();
      return checked(check, () => effects.reserve(state, check.orderId, check.items));
    },
    async chargeChecked(check) {
      begin();
      return checked(check, () => effects.charge(state, check.orderId, check.userId, check.totalPrice));
    },
    async withLocks(resources, fn) {
      begin();
      return locks.run(resources, fn);
    },

    async createOrder(order) {
      begin();
      return orders.createOrder(state, order);
    },
    async getOrder(orderId) {
      begin();
      return orders.getOrder(state, orderId);
    },
    async idempotencyClaim(key) {
      begin();
      return state.claim(key)?.orderId ?? null;
    },
    async loadSaga(orderId) {
      begin();
      return orders.loadSaga(state, orderId);
    },
    async commitSaga(orderId, expectedVersion, write) {
      begin();
      const view = orders.commitSaga(state, orderId, expectedVersion, write);
      if (view === null) return false;
      // After the write, as a pub/sub message follows the script that published it.
      watchers.notify(orderId, view);
      return true;
    },
    async statusCounts() {
      begin();
      return orders.statusCounts(state);
    },
    async markOutboxSent(orderId, version) {
      begin();
      orders.markOutboxSent(state, orderId, version);
    },
    async claimDue(now, limit, leaseMs) {
      begin();
      return orders.claimDue(state, now, limit, leaseMs);
    },
    async retainEffects(now, limit, _leaseMs) {
      begin();
      return retentionIndex.retainEffects(state, now, limit);
    },
    async watch(orderId, listener) {
      begin();
      return watchers.add(orderId, listener);
    },

    async ping() {
      begin();
    },
    async close() {
      begin();
    },

    setAvailable(value) {
      up = value;
    },
    sizes() {
      return {
        orders: state.orders.size,
        effects: state.stock.size + state.payments.size,
        idempotencyKeys: state.keys.size,
        indexEntries: state.deadlines.size,
        retentionEntries: state.retention.size,
        watchers: watchers.size,
      };
    },
  };
}
