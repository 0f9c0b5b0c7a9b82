/**
 * The ORDERING step: price the reserved items at today's prices and check the user,
 * before the machine decides between PAYING and COMPENSATING.
 */
import type { LineItem, Pricing } from '../../machines/order.machine.ts';
import type { Store } from '../ports/store.ts';
import { MAX_AMOUNT } from '../schemas.ts';

export async function priceOrder(store: Store, userId: string, items: readonly LineItem[]): Promise<Pricing> {
  const [user, products] = await Promise.all([store.getUser(userId), store.getProducts(items.map((i) => i.productId))]);
  if (!user) return { ok: false, failure: { code: 'UNKNOWN_USER', message: `user ${userId} does not exist` } };
  let total = 0;
  for (const [i, item] of items.entries()) {
    const product = products[i];
    if (!product) {
      return { ok: false, failure: { code: 'UNKNOWN_PRODUCT', message: `product ${item.productId} does not exist` } };
    }
    total += item.quantity * product.price;
    if (!Number.isSafeInteger(total) || total > MAX_AMOUNT) {
      return { ok: false, failure: { code: 'LIMIT_EXCEEDED', message: `order total exceeds ${MAX_AMOUNT}` } };
    }
  }
  return { ok: true, totalPrice: total };
}
