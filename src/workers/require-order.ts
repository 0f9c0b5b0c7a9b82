/**
 * What a worker checks before it acts: the command's order exists, and the command is one
 * the saga can have sent for it (rule `idempotent-effects`, docs/architecture.md). The
 * stored order is the truth, not the message: a forged or replayed command that disagrees
 * with it is refused (DLQ, reason in its headers) and moves nothing.
 */
import { UndoStatuses } from '../../machines/order.machine.ts';
import { ForgedCommandError, UnknownOrderError } from '../errors.ts';
import type { Store } from '../ports/store.ts';
import type { Item, OrderStatus, OrderView } from '../schemas.ts';
import { Topics, type Payload } from '../topics.ts';

/**
 * A command for an orderId with no record is refused (DLQ): effect records outlive order
 * records, so an old redelivery can never act twice (rule `idempotent-effects`,
 * docs/architecture.md).
 */
export async function requireOrder(store: Store, orderId: string): Promise<OrderView> {
  const view = await store.getOrder(orderId);
  if (!view) throw new UnknownOrderError(orderId);
  return view;
}

const undoing: ReadonlySet<OrderStatus> = new Set(UndoStatuses);

const sameItems = (a: readonly Item[], b: readonly Item[]): boolean => {
  if (a.length !== b.length) return false;
  const quantities = new Map(a.map((i) => [i.productId, i.quantity]));
  return b.every((i) => quantities.get(i.productId) === i.quantity);
};
const show = (items: readonly Item[]): string => items.map((i) => `${i.productId}x${i.quantity}`).join(',');

function sameUser(what: string, view: OrderView, userId: string): void {
  if (userId !== view.userId)
    throw new ForgedCommandError(what, view.orderId, `userId ${userId} is not the order's user ${view.userId}`);
}

/** order.start: the api publishes exactly the items and user it recorded; the reserve takes the recorded items. */
export async function orderToReserve(store: Store, cmd: Payload<typeof Topics.orderStart>): Promise<OrderView> {
  const view = await requireOrder(store, cmd.orderId);
  sameUser(Topics.orderStart, view, cmd.userId);
  if (!sameItems(view.items, cmd.items)) {
    throw new ForgedCommandError(
      Topics.orderStart,
      cmd.orderId,
      `items ${show(cmd.items)} are not the order's items ${show(view.items)}`,
    );
  }
  return view;
}

/** payment.request: the saga asks for the total it priced (set on the way to PAYING), from the order's user. */
export async function orderToCharge(
  store: Store,
  cmd: Payload<typeof Topics.paymentRequest>,
): Promise<OrderView & { totalPrice: number }> {
  const view = await requireOrder(store, cmd.orderId);
  sameUser(Topics.paymentRequest, view, cmd.userId);
  if (view.totalPrice === undefined) {
    throw new ForgedCommandError(
      Topics.paymentRequest,
      cmd.orderId,
      `the order is ${view.status} and has no total yet`,
    );
  }
  if (cmd.amount !== view.totalPrice) {
    throw new ForgedCommandError(
      Topics.paymentRequest,
      cmd.orderId,
      `amount ${cmd.amount} is not the order's total ${view.totalPrice}`,
    );
  }
  return { ...view, totalPrice: view.totalPrice };
}

/**
 * stock.rollback and payment.refund: the saga sends undos only once the order compensates,
 * and a compensating order never completes (UndoStatuses, machines/order.machine.ts). The
 * view is written before the undo is sent (rule `outbox-in-snapshot`), so no undo the saga
 * sent finds its order in another status: an undo for a COMPLETED or an in-progress order
 * is refused.
 */
export async function orderToUndo(
  store: Store,
  what: typeof Topics.stockRollback | typeof Topics.paymentRefund,
  cmd: { orderId: string; userId?: string },
): Promise<OrderView> {
  const view = await requireOrder(store, cmd.orderId);
  if (cmd.userId !== undefined) sameUser(what, view, cmd.userId);
  if (!undoing.has(view.status)) {
    throw new ForgedCommandError(
      what,
      cmd.orderId,
      `the order is ${view.status}; the saga sends undos only in ${UndoStatuses.join(' or ')}`,
    );
  }
  return view;
}
