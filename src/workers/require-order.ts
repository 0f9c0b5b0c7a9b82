/**
 * What a worker checks before it acts: the command's order exists, and the command is one
 * the saga can have sent for it (rule `idempotent-effects`, docs/architecture.md). The
 * stored order is the truth, not the message: a forged or replayed command that disagrees
 * with it is refused (DLQ, reason in its headers) and moves nothing.
 */
import { UndoStatuses } from '../../machines/order.machine.ts';
import { ForgedCommandError, UnknownOrderError } from '../errors.ts';
import { orderMismatch, type OrderCheck } from '../order-check.ts';
import type { Checked, Store } from '../ports/store.ts';
import type { Item, OrderStatus, OrderView } from '../schemas.ts';
import { Topics, type Payload, type TopicName } from '../topics.ts';

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

/**
 * order.start (the api publishes exactly the items and user it recorded) and
 * payment.request (the saga asks for the total it priced on the way to PAYING, from the
 * order's user): the command's OrderCheck. The store runs the reserve or the charge only if
 * the stored order agrees, in the same step as the check (Store.reserveChecked,
 * Store.chargeChecked), so the items reserved and the amount charged are the order's.
 */
export const reserveCheck = (cmd: Payload<typeof Topics.orderStart>): OrderCheck & { items: Item[] } => ({
  orderId: cmd.orderId,
  userId: cmd.userId,
  items: cmd.items,
});
export const chargeCheck = (cmd: Payload<typeof Topics.paymentRequest>): OrderCheck & { totalPrice: number } => ({
  orderId: cmd.orderId,
  userId: cmd.userId,
  totalPrice: cmd.amount,
});

/**
 * The outcome of an effect run on a check, or the command's refusal: UnknownOrderError
 * for no order, ForgedCommandError with the reason for an order that disagrees.
 */
export function checkedOutcome<T>(what: TopicName, check: OrderCheck, checked: Checked<T>): T {
  if (checked.agreed) return checked.outcome;
  if (!checked.view) throw new UnknownOrderError(check.orderId);
  const why = orderMismatch(checked.view, check);
  // The store's comparison and orderMismatch are one rule; a disagreement is a bug.
  if (why === null) throw new Error(`the store refused ${what} for order ${check.orderId}, but its order agrees`);
  throw new ForgedCommandError(what, check.orderId, why);
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
  const why = cmd.userId === undefined ? null : orderMismatch(view, { orderId: cmd.orderId, userId: cmd.userId });
  if (why !== null) throw new ForgedCommandError(what, cmd.orderId, why);
  if (!undoing.has(view.status)) {
    throw new ForgedCommandError(
      what,
      cmd.orderId,
      `the order is ${view.status}; the saga sends undos only in ${UndoStatuses.join(' or ')}`,
    );
  }
  return view;
}
