/**
 * The contract's invariants, checked exactly once the run is over: for every product,
 * final stock = seeded stock - quantities of its COMPLETED orders; for every user, final
 * balance = seeded balance - totalPrice of their COMPLETED orders; nothing below zero;
 * every order terminal. Also: a COMPLETED order's totalPrice is what the seeded prices say.
 */
import type { Catalogue } from './catalogue.ts';
import type { Item } from '../schemas.ts';

export interface CompletedOrder {
  orderId: string;
  userId: string;
  items: readonly Item[];
  totalPrice: number | undefined;
}

export interface FinalState {
  stocks: (number | null)[];
  balances: (number | null)[];
}

/** How many breaks to spell out; the rest are counted. */
const SHOWN = 3;

/**
 * Products and users whose final counter is above what their COMPLETED orders leave
 * (`lost`: a debit of a completed order vanished) or below it (`doubled`: something was
 * taken twice, or an undo never landed). Unknown counters count as neither.
 */
export function counterDrift(
  catalogue: Catalogue,
  completed: readonly CompletedOrder[],
  final: FinalState,
): { lost: number; doubled: number } {
  const taken = new Map<string, number>();
  const spent = new Map<string, number>();
  for (const order of completed) {
    for (const item of order.items) taken.set(item.productId, (taken.get(item.productId) ?? 0) + item.quantity);
    spent.set(order.userId, (spent.get(order.userId) ?? 0) + (order.totalPrice ?? 0));
  }
  const drift = { lost: 0, doubled: 0 };
  const count = (actual: number | null | undefined, expected: number): void => {
    if (actual === null || actual === undefined || actual === expected) return;
    if (actual > expected) drift.lost++;
    else drift.doubled++;
  };
  catalogue.products.forEach((p, i) => count(final.stocks[i], p.stock - (taken.get(p.productId) ?? 0)));
  catalogue.users.forEach((u, i) => count(final.balances[i], u.balance - (spent.get(u.userId) ?? 0)));
  return drift;
}

export function checkInvariants(
  catalogue: Catalogue,
  completed: readonly CompletedOrder[],
  final: FinalState,
  stuck: number,
): string {
  const price = new Map(catalogue.products.map((p) => [p.productId, p.price]));
  const taken = new Map<string, number>();
  const spent = new Map<string, number>();
  const breaks: string[] = [];
  if (stuck > 0) breaks.push(`${stuck} order(s) not terminal by the deadline`);

  for (const order of completed) {
    let expected = 0;
    for (const item of order.items) {
      taken.set(item.productId, (taken.get(item.productId) ?? 0) + item.quantity);
      expected += item.quantity * (price.get(item.productId) ?? Number.NaN);
    }
    if (order.totalPrice !== expected)
      breaks.push(`order ${order.orderId}: totalPrice ${order.totalPrice} but its items cost ${expected}`);
    spent.set(order.userId, (spent.get(order.userId) ?? 0) + (order.totalPrice ?? expected));
  }

  catalogue.products.forEach((p, i) => {
    const actual = final.stocks[i];
    const expected = p.stock - (taken.get(p.productId) ?? 0);
    if (actual === null || actual === undefined) breaks.push(`product ${p.productId}: not found`);
    else if (actual < 0) breaks.push(`product ${p.productId}: stock ${actual} below zero`);
    else if (actual !== expected)
      breaks.push(
        `product ${p.productId}: stock ${actual}, expected ${expected} (seeded ${p.stock} - ${p.stock - expected} completed)`,
      );
  });
  catalogue.users.forEach((u, i) => {
    const actual = final.balances[i];
    const expected = u.balance - (spent.get(u.userId) ?? 0);
    if (actual === null || actual === undefined) breaks.push(`user ${u.userId}: not found`);
    else if (actual < 0) breaks.push(`user ${u.userId}: balance ${actual} below zero`);
    else if (actual !== expected)
      breaks.push(
        `user ${u.userId}: balance ${actual}, expected ${expected} (seeded ${u.balance} - ${u.balance - expected} completed)`,
      );
  });

  if (breaks.length === 0) return 'ok';
  const more = breaks.length > SHOWN ? `; and ${breaks.length - SHOWN} more` : '';
  return breaks.slice(0, SHOWN).join('; ') + more;
}
