/**
 * Products and users. Admin writes replace wholesale; every value goes in and out as a
 * fresh object, so a caller can never hold a reference into the store.
 */
import type { Product, User } from '../../../src/ports/store.ts';
import { MAX_AMOUNT } from '../../../src/schemas.ts';
import type { MemoryState } from './state.ts';

export const isAmount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0 && n <= MAX_AMOUNT;

/** Out-of-range counters are a caller's bug (the api validates first), not a refusal. */
function assertAmount(n: number, what: string): void {
  if (!isAmount(n)) throw new RangeError(`${what} must be an integer in 0..${MAX_AMOUNT}, got ${n}`);
}

const copyProduct = (p: Product): Product => ({ productId: p.productId, stock: p.stock, price: p.price });
const copyUser = (u: User): User => ({ userId: u.userId, balance: u.balance });

function checkProduct(p: Product): void {
  assertAmount(p.stock, `stock of ${p.productId}`);
  assertAmount(p.price, `price of ${p.productId}`);
}

const checkUser = (u: User): void => assertAmount(u.balance, `balance of ${u.userId}`);

export function putProduct(state: MemoryState, product: Product): void {
  checkProduct(product);
  state.products.set(product.productId, copyProduct(product));
}

export function getProducts(state: MemoryState, productIds: readonly string[]): (Product | null)[] {
  return productIds.map((id) => {
    const p = state.products.get(id);
    return p === undefined ? null : copyProduct(p);
  });
}

export function putUser(state: MemoryState, user: User): void {
  checkUser(user);
  state.users.set(user.userId, copyUser(user));
}

export function getUser(state: MemoryState, userId: string): User | null {
  const u = state.users.get(userId);
  return u === undefined ? null : copyUser(u);
}

export function seed(state: MemoryState, products: readonly Product[], users: readonly User[]): number {
  // Check everything before writing anything: a bad entry must not leave half a seed.
  products.forEach(checkProduct);
  users.forEach(checkUser);
  let created = 0;
  for (const p of products) {
    if (state.products.has(p.productId)) continue;
    state.products.set(p.productId, copyProduct(p));
    created++;
  }
  for (const u of users) {
    if (state.users.has(u.userId)) continue;
    state.users.set(u.userId, copyUser(u));
    created++;
  }
  return created;
}
