/**
 * What the runner needs from a way of reaching the system: seed it, place an order and
 * learn its end, read the counters back. in-process.ts and http.ts implement it.
 */
import type { Item } from '../schemas.ts';
import type { Catalogue } from './catalogue.ts';

export type TerminalStatus = 'COMPLETED' | 'REJECTED' | 'CANCELLED';

export interface Terminal {
  status: TerminalStatus;
  totalPrice?: number;
  reasonCode?: string;
  /** performance.now() when the terminal status reached the load generator. */
  at: number;
}

export interface Placed {
  orderId: string;
  /** The terminal status once seen; null if abandon() comes first (the order is stuck). */
  terminal: Promise<Terminal | null>;
}

/** Refused by admission control (503 OVERLOADED): nothing was recorded. */
export interface Shed {
  shed: true;
  /** What Retry-After said. */
  retryAfterMs: number;
}

export const isShed = (p: Placed | Shed): p is Shed => 'shed' in p;

export interface OrderRequest {
  /** Unique to this order in this run and every other (HTTP sends it as the Idempotency-Key). */
  key: string;
  userId: string;
  items: Item[];
}

export interface Driver {
  readonly mode: 'in-process' | 'http';
  /** Broker and store the system runs on. */
  describe(): Promise<{ broker: string; store: string }>;
  seed(catalogue: Catalogue): Promise<void>;
  /**
   * Resolves once the order is accepted (recorded), or refused by admission control (never
   * retried here: the runner decides); rejects if it could not be placed.
   */
  place(order: OrderRequest): Promise<Placed | Shed>;
  /** Stops following every order not terminal yet: their `terminal` resolves null. */
  abandon(): void;
  /** Current stock per product (null: unknown product), in the order given. */
  stocks(productIds: readonly string[]): Promise<(number | null)[]>;
  /** Current balance per user (null: unknown user), in the order given. */
  balances(userIds: readonly string[]): Promise<(number | null)[]>;
  close(): Promise<void>;
}

export const TerminalStatuses: ReadonlySet<string> = new Set<TerminalStatus>(['COMPLETED', 'REJECTED', 'CANCELLED']);

/** Runs fn over items with at most `limit` calls in flight; results in the order given. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
