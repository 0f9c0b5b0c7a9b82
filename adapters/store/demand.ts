import type { Item } from '../../src/schemas.ts';

/**
 * Sums quantities per product (in first-appearance order), so an item listed twice can
 * never pass the stock check twice. Both store adapters check a reserve through this.
 */
export function demand(items: readonly Item[]): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const { productId, quantity } of items) {
    if (!Number.isSafeInteger(quantity) || quantity < 1) {
      throw new RangeError(`quantity of ${productId} must be a positive integer, got ${quantity}`);
    }
    wanted.set(productId, (wanted.get(productId) ?? 0) + quantity);
  }
  return wanted;
}
