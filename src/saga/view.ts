/** What GET /orders/{id} shows of an order: its view, drawn from the snapshot at every commit. */
import type { OrderView } from '../schemas.ts';
import { statusOf, type OrderSnapshot } from './persisted.ts';

export function viewOf(snapshot: OrderSnapshot): OrderView {
  const c = snapshot.context;
  const view: OrderView = {
    orderId: c.orderId,
    userId: c.userId,
    items: c.items,
    status: statusOf(snapshot),
    history: c.history.map((h) => ({ status: h.status, at: new Date(h.at).toISOString() })),
  };
  if (c.reason) view.reason = c.reason;
  if (c.totalPrice !== null) view.totalPrice = c.totalPrice;
  return view;
}
