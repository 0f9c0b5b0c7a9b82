/**
 * The run's own products and users, sized from the planned orders. Ids carry a per-run
 * prefix, so runs against one system never touch each other's counters.
 *
 * Stock: every product gets 1.5x what the planned orders ask of it, so it does not run
 * out, except the hottest few under `--skew zipf`, which get 85% of their demand and so
 * run short near the end of the run: those orders are REJECTED. Balances: 2x what the
 * user's planned orders cost; a poor user gets half of the average order, so most of
 * their orders are CANCELLED (INSUFFICIENT_BALANCE) after stock was reserved and given back.
 */
import { randomBytes } from 'node:crypto';
import type { Product, User } from '../ports/store.ts';
import type { Rng } from '../random.ts';
import type { Skew } from './options.ts';
import type { PlannedOrder } from './workload.ts';

export const MIN_PRICE = 100;
export const MAX_PRICE = 10_000;
/** Share of the products that are "hot" (short of stock) under zipf: at least 1, at most 5. */
const HOT_SHARE = 0.03;

export interface Catalogue {
  prefix: string;
  products: Product[];
  users: User[];
  /** Product ids seeded short of their demand. */
  hot: string[];
  /** User ids seeded too poor for most of their orders. */
  poor: string[];
}

export interface CatalogueShape {
  products: number;
  users: number;
  skew: Skew;
  poorUsers: number;
}

/** `lg<time><random>-`: unique per run whatever the seed; ids stay well under 64 chars. */
export function runPrefix(): string {
  return `lg${Date.now().toString(36)}${randomBytes(2).toString('hex')}-`;
}

export const productId = (prefix: string, index: number): string => `${prefix}p${index}`;
export const userId = (prefix: string, index: number): string => `${prefix}u${index}`;

export function planCatalogue(
  shape: CatalogueShape,
  orders: readonly PlannedOrder[],
  rng: Rng,
  prefix: string,
): Catalogue {
  const prices = Array.from({ length: shape.products }, () => MIN_PRICE + rng.int(MAX_PRICE - MIN_PRICE + 1));
  const demand = new Array<number>(shape.products).fill(0);
  const spend = new Array<number>(shape.users).fill(0);
  const placed = new Array<number>(shape.users).fill(0);
  for (const order of orders) {
    for (const line of order.lines) {
      demand[line.product]! += line.quantity;
      spend[order.user]! += line.quantity * prices[line.product]!;
    }
    placed[order.user]!++;
  }

  const hotCount = shape.skew === 'zipf' ? Math.min(5, Math.max(1, Math.round(shape.products * HOT_SHARE))) : 0;
  const products: Product[] = prices.map((price, k) => ({
    productId: productId(prefix, k),
    price,
    stock: k < hotCount ? Math.floor(demand[k]! * 0.85) : Math.ceil(demand[k]! * 1.5) + 5,
  }));

  const poorCount = Math.floor(shape.users * shape.poorUsers);
  const users: User[] = spend.map((total, u) => ({
    userId: userId(prefix, u),
    balance: u < poorCount ? Math.floor(total / Math.max(1, placed[u]!) / 2) : total * 2 + 10_000,
  }));

  return {
    prefix,
    products,
    users,
    hot: products.slice(0, hotCount).map((p) => p.productId),
    poor: users.slice(0, poorCount).map((u) => u.userId),
  };
}
