/**
 * The store port: counters, effect records, saga state, the deadline index and
 * idempotency keys. Every method is atomic on its own. The memory adapter and the
 * Redis adapter (Lua scripts) give the same answers; one contract suite runs on both.
 */
import type { OrderCheck } from '../order-check.ts';
import type { Item, OrderStatus, OrderView } from '../schemas.ts';
import type { OutMessage, Payload, Topics } from '../topics.ts';

export interface Product {
  productId: string;
  stock: number;
  price: number;
}
export interface User {
  userId: string;
  balance: number;
}

/** Refusal codes, inferred from the replies' topic schemas (src/topics.ts). */
export type StockRefusal = Payload<typeof Topics.stockFailed>['code'];
export type PaymentRefusal = Payload<typeof Topics.paymentFailed>['code'];

/**
 * Effect outcomes are recorded with the orderId: a repeat returns the recorded outcome,
 * refusals included. `CANCELLED` means an undo for this order came first (a tombstone).
 */
export type ReserveOutcome = { ok: true } | { ok: false; code: StockRefusal; message: string };
export type ChargeOutcome = { ok: true } | { ok: false; code: PaymentRefusal; message: string };
/** `undone` is true only for the call that actually gave something back. */
export interface UndoOutcome {
  undone: boolean;
}

/**
 * An effect run on an OrderCheck: it ran (and `outcome` is its recorded outcome) only if
 * the stored order agreed; otherwise nothing moved and `view` is the stored order (null:
 * there is none), for the caller to say why.
 */
export type Checked<T> = { agreed: true; outcome: T } | { agreed: false; view: OrderView | null };

/** The persisted saga: what the saga host loads, steps and writes back. */
export interface SagaRecord {
  version: number;
  /**
   * The machine's persisted snapshot (JSON), tagged with the machine version; null once a
   * finished order's outbox was sent (see markOutboxSent).
   */
  snapshot: unknown;
  /** Messages the last transition must send; re-sent until marked sent. */
  outbox: OutMessage[];
  outboxSent: boolean;
}

export interface SagaWrite {
  snapshot: unknown;
  outbox: OutMessage[];
  view: OrderView;
  /** Absolute ms of the next deadline (step timeout or compensation retry), or null. */
  wakeAt: number | null;
  /**
   * Terminal orders get their retention clock started and lose their index entry; the
   * same write puts them in the retention index, from which retainEffects starts the
   * clock of their effect records (found through the view's userId and items).
   */
  terminal: boolean;
}

export interface NewOrder {
  orderId: string;
  idempotency?: { key: string; bodyHash: string };
  view: OrderView;
  snapshot: unknown;
  wakeAt: number;
}

export type CreateOutcome = { created: true } | { created: false; orderId: string; sameBody: boolean };

export type StatusListener = (view: OrderView) => void;

export interface Store {
  // catalogue and accounts (admin replaces wholesale)
  putProduct(product: Product): Promise<void>;
  getProducts(productIds: readonly string[]): Promise<(Product | null)[]>;
  putUser(user: User): Promise<void>;
  getUser(userId: string): Promise<User | null>;
  /** Creates only what does not exist yet; returns how many were created. */
  seed(products: readonly Product[], users: readonly User[]): Promise<number>;

  // effects: idempotent by orderId, never below zero, within 2^53-1
  reserve(orderId: string, items: readonly Item[]): Promise<ReserveOutcome>;
  /**
   * `items` are the order's lines (from its record): they name the products whose slots
   * may hold a reservation for this order; what is given back is what was recorded.
   */
  release(orderId: string, items: readonly Item[]): Promise<UndoOutcome>;
  charge(orderId: string, userId: string, amount: number): Promise<ChargeOutcome>;
  /** `userId` names the account whose slot holds the charge record (from payment.refund). */
  refund(orderId: string, userId: string): Promise<UndoOutcome>;
  /**
   * reserve(check.orderId, check.items), run only if the stored order agrees with the
   * check (orderMismatch, src/order-check.ts), checked in the same atomic step: a worker's
   * order check and its effect in one store call (rule `idempotent-effects`, docs/architecture.md).
   */
  reserveChecked(check: OrderCheck & { items: readonly Item[] }): Promise<Checked<ReserveOutcome>>;
  /** charge(check.orderId, check.userId, check.totalPrice), the same way. */
  chargeChecked(check: OrderCheck & { totalPrice: number }): Promise<Checked<ChargeOutcome>>;
  /** Runs fn holding every named lock (taken in sorted order); LockNotAcquiredError if not won. */
  withLocks<T>(resources: readonly string[], fn: () => Promise<T>): Promise<T>;

  // orders and sagas
  /** Idempotency-key claim, order view, PENDING snapshot and deadline in one atomic write. */
  createOrder(order: NewOrder): Promise<CreateOutcome>;
  getOrder(orderId: string): Promise<OrderView | null>;
  /**
   * The orderId an Idempotency-Key is claimed for, or null (never claimed, or gone with its
   * order). Admission control asks it only for an order it would refuse: a repeat of a
   * recorded order is not new work.
   */
  idempotencyClaim(key: string): Promise<string | null>;
  loadSaga(orderId: string): Promise<SagaRecord | null>;
  /** Compare-and-set on version: writes snapshot, outbox, view and index entry, or returns false. */
  commitSaga(orderId: string, expectedVersion: number, write: SagaWrite): Promise<boolean>;
  /**
   * Orders per status: live counts for the non-terminal ones, running totals for the
   * terminal ones. Moved in the same atomic writes as the snapshots (createOrder, commitSaga).
   */
  statusCounts(): Promise<Record<OrderStatus, number>>;
  /**
   * Marks the outbox of that version sent; a no-op if the saga has moved on. A finished
   * order's snapshot and outbox are dropped then (its view stays): loadSaga answers
   * `snapshot: null` for it, meaning there is nothing left to do.
   */
  markOutboxSent(orderId: string, version: number): Promise<void>;
  /**
   * Leases up to `limit` index entries due at `now` by moving their score to
   * `now + leaseMs` (never removing them) and returns their orderIds.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<string[]>;
  /**
   * Effect records have no expiry while their order is in flight (rule `idempotent-effects`, docs/architecture.md). This
   * starts their clock for up to `limit` orders whose terminal commit is in the retention
   * index: each record then expires effectRetentionMs after that commit (at once if that
   * time has passed; a later terminal commit only extends it). An entry is leased by
   * moving its score to `now + leaseMs` and removed once all its records are done, so a
   * caller that dies mid-way only delays it. Until then the records stay. Returns how
   * many entries it handled.
   */
  retainEffects(now: number, limit: number, leaseMs: number): Promise<number>;
  /** Calls listener on every view change of that order until the returned function is called. */
  watch(orderId: string, listener: StatusListener): Promise<() => void>;

  ping(): Promise<void>;
  close(): Promise<void>;
}
