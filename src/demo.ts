/** The demo catalogue `npm start` seeds (SEED_DEMO=1): only what does not exist yet. */
import type { Product, User } from './ports/store.ts';

export const demoProducts: Product[] = [
  { productId: 'p1', stock: 100, price: 1_500 },
  { productId: 'p2', stock: 50, price: 12_000 },
  { productId: 'p3', stock: 10, price: 99_000 },
  { productId: 'p4', stock: 1_000, price: 300 },
  { productId: 'p5', stock: 0, price: 5_000 },
];

export const demoUsers: User[] = [
  { userId: 'u1', balance: 1_000_000 },
  { userId: 'u2', balance: 50_000 },
  { userId: 'u3', balance: 0 },
];
