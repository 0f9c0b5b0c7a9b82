/** Shared fixtures of the store tests: an order view, and one call of every Store method. */
import type { NewOrder, Store } from '../../src/ports/store.ts';
import type { OrderStatus, OrderView } from '../../src/schemas.ts';

export const orderView = (
  orderId: string,
  status: OrderStatus = 'PENDING',
  userId = 'u',
  productId = 'p',
): OrderView => ({
  orderId,
  userId,
  items: [{ productId, quantity: 1 }],
  status,
  history: [{ status, at: '2026-01-01T00:00:00.000Z' }],
});

/**
 * One call of every Store method, for the "store is down" tests. A Record over keyof Store:
 * a method added to the port without a line here fails to compile.
 */
export function everyStoreMethod(
  store: Store,
  o: { newOrder: NewOrder; finish: () => Promise<unknown>; close: () => Promise<unknown>; onLocked: () => void },
): Record<keyof Store, () => Promise<unknown>> {
  return {
    putProduct: () => store.putProduct({ productId: 'p1', stock: 0, price: 0 }),
    getProducts: () => store.getProducts(['p1']),
    putUser: () => store.putUser({ userId: 'u1', balance: 0 }),
    getUser: () => store.getUser('u1'),
    seed: () => store.seed([{ productId: 'p2', stock: 1, price: 1 }], [{ userId: 'u2', balance: 1 }]),
    reserve: () => store.reserve('o9', [{ productId: 'p1', quantity: 1 }]),
    release: () => store.release('o8', [{ productId: 'p', quantity: 1 }]),
    charge: () => store.charge('o9', 'u1', 10),
    refund: () => store.refund('o8', 'u'),
    reserveChecked: () =>
      store.reserveChecked({ orderId: 'o9', userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] }),
    chargeChecked: () => store.chargeChecked({ orderId: 'o9', userId: 'u1', totalPrice: 10 }),
    withLocks: () => store.withLocks(['r'], async () => o.onLocked()),
    createOrder: () => store.createOrder(o.newOrder),
    getOrder: () => store.getOrder('o1'),
    idempotencyClaim: () => store.idempotencyClaim('k1'),
    loadSaga: () => store.loadSaga('o1'),
    commitSaga: o.finish,
    markOutboxSent: () => store.markOutboxSent('o1', 1),
    statusCounts: () => store.statusCounts(),
    claimDue: () => store.claimDue(Number.MAX_SAFE_INTEGER, 10, 1000),
    retainEffects: () => store.retainEffects(Number.MAX_SAFE_INTEGER, 10, 1000),
    watch: () => store.watch('o1', () => {}),
    ping: () => store.ping(),
    close: o.close,
  };
}
