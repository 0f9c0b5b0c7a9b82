/** What GET /orders/{id} shows of an order: its view, drawn from the snapshot at every commit. */
import type { OrderView } from '../schemas.ts';
import { statusOf, type OrderSnapshot } from './persisted.ts';

/**
 * Recent history times as ISO text. Every commit draws the whole history again, so an
 * order's earlier times come back at each of its commits (and orders in flight share
 * milliseconds): formatting each once takes most of the view's cost off the saga's path.
 * Cleared when full, so it holds at most ISO_TEXTS_KEPT strings.
 */
const isoTexts = new Map<number, string>();
const ISO_TEXTS_KEPT = 4096;

function isoOf(ms: number): string {
  let text = isoTexts.get(ms);
  if (text === undefined) {
    if (isoTexts.size >= ISO_TEXTS_KEPT) isoTexts.clear();
    text = new Date(ms).toISOString();
    isoTexts.set(ms, text);
  }
  return text;
}

export function viewOf(snapshot: OrderSnapshot): OrderView {
  const c = snapshot.context;
  const view: OrderView = {
    orderId: c.orderId,
    userId: c.userId,
    items: c.items,
    status: statusOf(snapshot),
    history: c.history.map((h) => ({ status: h.status, at: isoOf(h.at) })),
  };
  if (c.reason) view.reason = c.reason;
  if (c.totalPrice !== null) view.totalPrice = c.totalPrice;
  return view;
}
