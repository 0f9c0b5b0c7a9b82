/** What the memory store keeps per order: its row, its key claim and its effect records. */
import type { PaymentRefusal, StockRefusal } from '../../../src/ports/store.ts';
import type { Item, OrderStatus } from '../../../src/schemas.ts';

/** Values are kept as JSON text, as Redis keeps them: nothing a caller holds can alias them. */
export interface OrderRow {
  version: number;
  snapshot: string;
  outbox: string;
  outboxSent: boolean;
  view: string;
  /** The view's status, kept beside it so the counts move without parsing the view. */
  status: OrderStatus;
  idempotencyKey: string | undefined;
}

export interface KeyClaim {
  orderId: string;
  bodyHash: string;
}

export type StockRecord =
  | { kind: 'reserved'; items: Item[]; released: boolean }
  | { kind: 'refused'; code: Exclude<StockRefusal, 'CANCELLED'>; message: string; items: Item[] }
  | { kind: 'tombstone' };

export type PaymentRecord =
  | { kind: 'charged'; userId: string; amount: number; refunded: boolean }
  | { kind: 'refused'; code: Exclude<PaymentRefusal, 'CANCELLED'>; message: string; userId: string; amount: number }
  | { kind: 'tombstone' };
