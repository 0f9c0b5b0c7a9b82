/**
 * A seeded mixed workload over HTTP and the exact conservation check that follows it:
 * products and users created through the admin API, orders that complete, run short,
 * name unknown products or users, or can't be paid.
 */
import { seededRng } from '../../src/random.ts';
import type { Client } from './client.ts';

export interface Workload {
  orderIds: string[];
  /** Waits for every order to end, then returns what broke (empty when every invariant holds). */
  verify(limitMs?: number): Promise<string[]>;
}

export async function placeMixedOrders(c: Client, label: string, count: number, seed = 1): Promise<Workload> {
  const rng = seededRng(seed);
  const products = Array.from({ length: 5 }, (_, i) => ({
    pid: `${label}-p${i}`,
    stock: 10 + rng.int(40),
    price: 1 + rng.int(900),
  }));
  const users = Array.from({ length: 8 }, (_, i) => ({
    uid: `${label}-u${i}`,
    balance: i === 0 ? 0 : rng.int(30_000),
  }));
  await Promise.all(products.map((p) => c.admin(`/products/${p.pid}`, { stock: p.stock, price: p.price })));
  await Promise.all(users.map((u) => c.admin(`/users/${u.uid}`, { balance: u.balance })));
  const orders = Array.from({ length: count }, () => {
    const picked = new Set<number>();
    const lines = 1 + rng.int(2);
    while (picked.size < lines) picked.add(rng.int(products.length + 1));
    return {
      uid: users[rng.int(users.length + 1)]?.uid ?? `${label}-nobody`,
      items: [...picked].map((i) => ({ productId: products[i]?.pid ?? `${label}-ghost`, quantity: 1 + rng.int(3) })),
    };
  });
  const orderIds = await Promise.all(orders.map((o) => c.placeOrder(o.uid, o.items)));
  return {
    orderIds,
    async verify(limitMs = 90_000) {
      const done = await Promise.all(orderIds.map((id) => c.awaitTerminal(id, limitMs)));
      const problems = done
        .filter((o) => !['COMPLETED', 'REJECTED', 'CANCELLED'].includes(o.status))
        .map((o) => `${o.orderId} stuck in ${o.status}`);
      const completed = done.filter((o) => o.status === 'COMPLETED');
      for (const p of products) {
        const sold = completed
          .flatMap((o) => o.items)
          .filter((i: { productId: string }) => i.productId === p.pid)
          .reduce((s: number, i: { quantity: number }) => s + i.quantity, 0);
        const stock = (await c.request('GET', `/products/${p.pid}`)).body.stock;
        if (stock !== p.stock - sold) problems.push(`${p.pid}: stock ${stock}, expected ${p.stock - sold}`);
      }
      for (const u of users) {
        const spent = completed.filter((o) => o.userId === u.uid).reduce((s, o) => s + o.totalPrice, 0);
        const balance = (await c.request('GET', `/users/${u.uid}`)).body.balance;
        if (balance !== u.balance - spent) problems.push(`${u.uid}: balance ${balance}, expected ${u.balance - spent}`);
      }
      return problems;
    },
  };
}
