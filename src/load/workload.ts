/**
 * The seeded workload: which user orders which products, in what quantities. Products
 * and users are indexes here; catalogue.ts names them. The same seed and options give the
 * same orders, in the same sequence.
 */
import type { Rng } from '../random.ts';
import type { Skew } from './options.ts';

/** Zipf exponent of `--skew zipf`: with 100 products the top one takes ~19% of the lines. */
export const ZIPF_EXPONENT = 1;
/** Quantity of a line: 1..MAX_QUANTITY. */
export const MAX_QUANTITY = 3;

export interface PlannedLine {
  product: number;
  quantity: number;
}

export interface PlannedOrder {
  seq: number;
  user: number;
  lines: PlannedLine[];
}

/** Picks a product index: uniform, or Zipf (index 0 the hottest) by inverting the CDF. */
export function productPicker(products: number, skew: Skew, rng: Rng): () => number {
  if (skew === 'uniform') return () => rng.int(products);
  const cdf = new Float64Array(products);
  let sum = 0;
  for (let k = 0; k < products; k++) cdf[k] = sum += 1 / (k + 1) ** ZIPF_EXPONENT;
  for (let k = 0; k < products; k++) cdf[k]! /= sum;
  return () => {
    const u = rng.next();
    let lo = 0;
    let hi = products - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

export interface WorkloadShape {
  orders: number;
  products: number;
  users: number;
  skew: Skew;
  itemsMax: number;
}

export function planOrders(shape: WorkloadShape, rng: Rng): PlannedOrder[] {
  const pick = productPicker(shape.products, shape.skew, rng);
  const orders: PlannedOrder[] = new Array(shape.orders);
  for (let seq = 0; seq < shape.orders; seq++) {
    const user = rng.int(shape.users);
    const count = 1 + rng.int(shape.itemsMax);
    const taken = new Set<number>();
    const lines: PlannedLine[] = [];
    while (lines.length < count) {
      let product = pick();
      // Lines name distinct products; after a few clashes take the next free index.
      for (let tries = 0; taken.has(product) && tries < 8; tries++) product = pick();
      while (taken.has(product)) product = (product + 1) % shape.products;
      taken.add(product);
      lines.push({ product, quantity: 1 + rng.int(MAX_QUANTITY) });
    }
    orders[seq] = { seq, user, lines };
  }
  return orders;
}
