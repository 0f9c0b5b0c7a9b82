/**
 * What a stock or payment command states about its order, and whether the stored order
 * agrees (rule `idempotent-effects`, docs/architecture.md). The workers refuse a command
 * that disagrees (src/workers/require-order.ts); the store runs an effect on an
 * `OrderCheck` only if it holds, in the same atomic step (Store.reserveChecked,
 * Store.chargeChecked), and the Redis store's Lua (adapters/store/redis/lua/check.lua)
 * compares the same fields.
 */
import type { Item, OrderView } from './schemas.ts';

export interface OrderCheck {
  orderId: string;
  /** The order's user. */
  userId: string;
  /** The order's items, the same lines in any order (a reserve). */
  items?: readonly Item[];
  /** The order's total, set on the way to PAYING (a charge). */
  totalPrice?: number;
}

const sameItems = (a: readonly Item[], b: readonly Item[]): boolean => {
  if (a.length !== b.length) return false;
  const quantities = new Map(a.map((i) => [i.productId, i.quantity]));
  return b.every((i) => quantities.get(i.productId) === i.quantity);
};
const show = (items: readonly Item[]): string => items.map((i) => `${i.productId}x${i.quantity}`).join(',');

/** Why the stored order disagrees with the check, or null when it agrees. */
export function orderMismatch(view: OrderView, check: OrderCheck): string | null {
  if (check.userId !== view.userId) return `userId ${check.userId} is not the order's user ${view.userId}`;
  if (check.items !== undefined && !sameItems(view.items, check.items))
    return `items ${show(check.items)} are not the order's items ${show(view.items)}`;
  if (check.totalPrice !== undefined) {
    if (view.totalPrice === undefined) return `the order is ${view.status} and has no total yet`;
    if (check.totalPrice !== view.totalPrice)
      return `amount ${check.totalPrice} is not the order's total ${view.totalPrice}`;
  }
  return null;
}
