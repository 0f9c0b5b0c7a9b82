/**
 * The simulations' orders: a line names a product and a user by index into id lists that
 * end with one id the catalogue does not have ('ghost', 'nobody'), so unknown products and
 * users come up as often as known ones. Shared by every file under test/sim/.
 */
import fc from 'fast-check';
import type { Product, User } from '../../src/ports/store.ts';
import type { Harness } from './harness.ts';

export interface SimOrder {
  user: number;
  lines: { product: number; quantity: number }[];
}

export interface SimCatalogue {
  productIds: string[];
  userIds: string[];
}

export const simCatalogue = (products: readonly Product[], users: readonly User[]): SimCatalogue => ({
  productIds: [...products.map((p) => p.productId), 'ghost'],
  userIds: [...users.map((u) => u.userId), 'nobody'],
});

/** 1 to 3 distinct lines of 1 to `maxQuantity` units, by one user. */
export const simOrderArbitrary = ({ productIds, userIds }: SimCatalogue, maxQuantity = 5): fc.Arbitrary<SimOrder> =>
  fc.record({
    user: fc.integer({ min: 0, max: userIds.length - 1 }),
    lines: fc.uniqueArray(
      fc.record({
        product: fc.integer({ min: 0, max: productIds.length - 1 }),
        quantity: fc.integer({ min: 1, max: maxQuantity }),
      }),
      { minLength: 1, maxLength: 3, selector: (l) => l.product },
    ),
  });

/** Places every order, in order, as the api would. */
export async function placeAll(h: Harness, { productIds, userIds }: SimCatalogue, orders: readonly SimOrder[]) {
  for (const o of orders) {
    await h.placeOrder(
      userIds[o.user]!,
      o.lines.map((l) => ({ productId: productIds[l.product]!, quantity: l.quantity })),
    );
  }
}
