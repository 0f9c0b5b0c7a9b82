/**
 * Products and users: one hash each. Admin writes replace both fields in one HSET; reads
 * of many products go out as one pipeline. Counters are stored as decimal strings.
 */
import type { Product, User } from '../../../src/ports/store.ts';
import { MAX_AMOUNT } from '../../../src/schemas.ts';
import { call, toStoreError } from './connection.ts';
import type { Ctx } from './context.ts';

const isAmount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0 && n <= MAX_AMOUNT;

/** Out-of-range counters are a caller's bug (the api validates first), not a refusal. */
function assertAmount(n: number, what: string): void {
  if (!isAmount(n)) throw new RangeError(`${what} must be an integer in 0..${MAX_AMOUNT}, got ${n}`);
}

function checkProduct(p: Product): void {
  assertAmount(p.stock, `stock of ${p.productId}`);
  assertAmount(p.price, `price of ${p.productId}`);
}

const checkUser = (u: User): void => assertAmount(u.balance, `balance of ${u.userId}`);

/** A counter read back; anything but an integer we wrote means the data is corrupt. */
function counter(value: string | null | undefined, what: string): number {
  const n = Number(value);
  if (value == null || !isAmount(n)) throw new Error(`corrupt ${what}: ${String(value)}`);
  return n;
}

export async function putProduct(ctx: Ctx, product: Product): Promise<void> {
  checkProduct(product);
  await call(
    ctx.client.hset(
      ctx.keys.product(product.productId),
      'stock',
      String(product.stock),
      'price',
      String(product.price),
    ),
  );
}

export async function getProducts(ctx: Ctx, productIds: readonly string[]): Promise<(Product | null)[]> {
  if (productIds.length === 0) return [];
  const pipeline = ctx.client.pipeline(productIds.map((id) => ['hmget', ctx.keys.product(id), 'stock', 'price']));
  const results = await call(pipeline.exec());
  return productIds.map((productId, i) => {
    const [err, fields] = results?.[i] ?? [new Error('no reply from pipeline'), null];
    if (err) throw toStoreError(err);
    const [stock, price] = fields as (string | null)[];
    if (stock == null && price == null) return null;
    return {
      productId,
      stock: counter(stock, `stock of ${productId}`),
      price: counter(price, `price of ${productId}`),
    };
  });
}

export async function putUser(ctx: Ctx, user: User): Promise<void> {
  checkUser(user);
  await call(ctx.client.hset(ctx.keys.user(user.userId), 'balance', String(user.balance)));
}

export async function getUser(ctx: Ctx, userId: string): Promise<User | null> {
  const balance = await call(ctx.client.hget(ctx.keys.user(userId), 'balance'));
  return balance === null ? null : { userId, balance: counter(balance, `balance of ${userId}`) };
}

export async function seed(ctx: Ctx, products: readonly Product[], users: readonly User[]): Promise<number> {
  // Check everything before writing anything (the script checks again).
  products.forEach(checkProduct);
  users.forEach(checkUser);
  const keys = [...products.map((p) => ctx.keys.product(p.productId)), ...users.map((u) => ctx.keys.user(u.userId))];
  const args = [
    String(products.length),
    ...products.flatMap((p) => [String(p.stock), String(p.price)]),
    ...users.map((u) => String(u.balance)),
  ];
  return Number(await call(ctx.scripts.seed(keys, args)));
}
