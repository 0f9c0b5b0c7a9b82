/**
 * Everything the memory store holds, and its retention. Records that expire are found
 * through the lookups here, which treat a record past its time as gone (and free it on
 * the spot), so an unswept record is never visible. Each call also frees a bounded
 * batch of expired records, oldest first: memory per finished order is bounded without
 * any call paying for a million expiries at once (Redis does the same: lazy on access,
 * plus an active sweep).
 */
import type { Clock } from '../../../src/clock.ts';
import type { Product, User } from '../../../src/ports/store.ts';
import type { OrderStatus } from '../../../src/schemas.ts';
import { KeyedMinHeap } from './keyed-heap.ts';
import type { KeyClaim, OrderRow, PaymentRecord, StockRecord } from './records.ts';

/** How many expired records one call frees at most; more than any call creates (<= 1). */
const SWEEP_BATCH = 100;

/**
 * What expires: an order (row, view and idempotency key together), or one of its two
 * effect records. Each kind has its own expiry heap keyed by the orderId itself, so the
 * lookup every store call makes builds no key string.
 */
type Expiring = 'order' | 'stock' | 'payment';
const EXPIRING: readonly Expiring[] = ['order', 'stock', 'payment'];

export class MemoryState {
  readonly products = new Map<string, Product>();
  readonly users = new Map<string, User>();
  readonly orders = new Map<string, OrderRow>();
  readonly keys = new Map<string, KeyClaim>();
  readonly stock = new Map<string, StockRecord>();
  readonly payments = new Map<string, PaymentRecord>();
  /** The deadline index: orderId -> wakeAt (or lease end). */
  readonly deadlines = new KeyedMinHeap();
  /** The retention index: one entry per terminal commit (see ./retention.ts), by its time. */
  readonly retention = new KeyedMinHeap();
  /** Live orders per non-terminal status; running totals per terminal status. */
  readonly counts = new Map<OrderStatus, number>();
  private readonly expiries: Record<Expiring, KeyedMinHeap> = {
    order: new KeyedMinHeap(),
    stock: new KeyedMinHeap(),
    payment: new KeyedMinHeap(),
  };
  /** The time of the current call, read once so one call sees one instant. */
  private at: number;

  constructor(
    private readonly clock: Clock,
    readonly orderRetentionMs: number,
    readonly effectRetentionMs: number,
  ) {
    this.at = clock.now();
  }

  get now(): number {
    return this.at;
  }

  /** Starts a call: reads the clock and frees a batch of what has expired. */
  begin(): void {
    this.at = this.clock.now();
    for (let i = 0; i < SWEEP_BATCH; i++) {
      // The oldest due entry over the three kinds (the first kind wins a tie).
      let kind: Expiring | null = null;
      let at = this.at;
      for (const k of EXPIRING) {
        const next = this.expiries[k].peek();
        if (next !== undefined && (kind === null ? next.score <= at : next.score < at)) {
          kind = k;
          at = next.score;
        }
      }
      if (kind === null) return;
      this.drop(kind, this.expiries[kind].peek()!.key);
    }
  }

  order(orderId: string): OrderRow | undefined {
    this.dropIfDue('order', orderId);
    return this.orders.get(orderId);
  }

  /** A key claim lives exactly as long as its order. */
  claim(key: string): KeyClaim | undefined {
    const claim = this.keys.get(key);
    if (claim !== undefined) this.dropIfDue('order', claim.orderId);
    return this.keys.get(key);
  }

  stockRecord(orderId: string): StockRecord | undefined {
    this.dropIfDue('stock', orderId);
    return this.stock.get(orderId);
  }

  paymentRecord(orderId: string): PaymentRecord | undefined {
    this.dropIfDue('payment', orderId);
    return this.payments.get(orderId);
  }

  /**
   * A write never starts or moves an effect record's clock: a new record has none while
   * its order is in flight, and a rewrite keeps the one it has (as HSET keeps a TTL).
   */
  writeStock(orderId: string, record: StockRecord): void {
    this.stock.set(orderId, record);
  }

  writePayment(orderId: string, record: PaymentRecord): void {
    this.payments.set(orderId, record);
  }

  /** Sets the order's effect records to expire at `expireAt`, or later if they already would. */
  retainEffects(orderId: string, expireAt: number): void {
    const records: [Expiring, boolean][] = [
      ['stock', this.stock.has(orderId)],
      ['payment', this.payments.has(orderId)],
    ];
    for (const [kind, held] of records) {
      if (!held) continue;
      const current = this.expiries[kind].score(orderId);
      if (current === undefined || current < expireAt) this.expiries[kind].set(orderId, expireAt);
      this.dropIfDue(kind, orderId);
    }
  }

  /** Starts (or restarts) a finished order's retention clock. */
  retainOrder(orderId: string): void {
    this.expiries.order.set(orderId, this.at + this.orderRetentionMs);
  }

  private dropIfDue(kind: Expiring, id: string): void {
    const at = this.expiries[kind].score(id);
    if (at !== undefined && at <= this.at) this.drop(kind, id);
  }

  private drop(kind: Expiring, id: string): void {
    this.expiries[kind].delete(id);
    switch (kind) {
      case 'stock':
        this.stock.delete(id);
        return;
      case 'payment':
        this.payments.delete(id);
        return;
      case 'order': {
        const row = this.orders.get(id);
        this.orders.delete(id);
        // A terminal order has no index entry, but a (mistaken) later non-terminal
        // commit could have added one; it must not outlive the row.
        this.deadlines.delete(id);
        const claimed = row?.idempotencyKey;
        if (claimed !== undefined && this.keys.get(claimed)?.orderId === id) this.keys.delete(claimed);
        return;
      }
    }
  }
}
