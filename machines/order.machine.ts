/**
 * The order saga as one XState v5 machine. Pure: no I/O, no timers, no imports from
 * adapters. Deadlines are data: each waiting state records an absolute deadline in
 * context, and a TIMEOUT event (carrying `now`) is taken only when a guard sees it passed.
 * Effects are named `publish*` actions whose params are the message bodies; the saga
 * host turns them into its outbox.
 */
import { assign, enqueueActions, setup } from 'xstate';
import {
  compensationRetryAt,
  nextWakeUp as wakeUpOf,
  stepDeadline,
  timeoutMessage,
  type BackoffPolicy,
} from './timing.ts';

export const MACHINE_VERSION = 1;

/** Every status an order can have, in the order of the happy path; the api, schemas and stores use this list. */
export const OrderStatuses = [
  'PENDING',
  'RESERVING',
  'ORDERING',
  'PAYING',
  'COMPENSATING',
  'COMPLETED',
  'REJECTED',
  'CANCELLED',
] as const;
export type Status = (typeof OrderStatuses)[number];
/** The machine's final states. */
export const TerminalStatuses = ['COMPLETED', 'REJECTED', 'CANCELLED'] as const satisfies readonly Status[];
/**
 * The statuses an order can have once the saga may have sent an undo: undos go out only
 * on entering COMPENSATING and on its retries, and COMPENSATING leads only to CANCELLED.
 * An undo for an order in any other status was not sent by the saga.
 */
export const UndoStatuses = ['COMPENSATING', 'CANCELLED'] as const satisfies readonly Status[];

/** Every code an order's `reason` can carry (the contract's reason codes). */
export const FailureCodes = [
  'OUT_OF_STOCK',
  'UNKNOWN_PRODUCT',
  'UNKNOWN_USER',
  'INSUFFICIENT_BALANCE',
  'LIMIT_EXCEEDED',
  'TIMEOUT',
] as const;
export type FailureCode = (typeof FailureCodes)[number];

export interface Failure {
  code: FailureCode;
  message: string;
}
export interface LineItem {
  productId: string;
  quantity: number;
}

/** Outcome of pricing the order, computed by the host from the store before the event. */
export type Pricing = { ok: true; totalPrice: number } | { ok: false; failure: Failure };

/** Where each undo stands while compensating; `confirmed` needs its reply. */
export type UndoState = 'none' | 'pending' | 'confirmed';

export interface OrderInput {
  orderId: string;
  userId: string;
  items: LineItem[];
  createdAt: number;
  stepTimeoutMs: number;
  compensationRetry: BackoffPolicy;
  /** W3C trace id of the request that placed the order (plain data): the sweeper's TIMEOUTs join that trace. */
  traceId?: string;
}

export interface OrderContext extends OrderInput {
  /** PENDING: when the saga gives up waiting for its own order.start. */
  startDeadline: number;
  reservationDeadline: number | null;
  paymentDeadline: number | null;
  /** COMPENSATING: when unconfirmed undos are sent again. */
  compensationRetryAt: number | null;
  compensationAttempts: number;
  paymentRequested: boolean;
  stockUndo: UndoState;
  paymentUndo: UndoState;
  pricing: Pricing | null;
  totalPrice: number | null;
  reason: Failure | null;
  history: { status: Status; at: number }[];
}

export type OrderEvent =
  | { type: 'START'; now: number }
  | { type: 'STOCK_RESERVED'; now: number; pricing: Pricing }
  | { type: 'STOCK_REFUSED'; now: number; failure: Failure }
  | { type: 'PAYMENT_CHARGED'; now: number }
  | { type: 'PAYMENT_REFUSED'; now: number; failure: Failure }
  | { type: 'STOCK_RELEASED'; now: number }
  | { type: 'PAYMENT_REFUNDED'; now: number }
  | { type: 'TIMEOUT'; now: number };

const timeoutFailure = (step: string, ms: number): Failure => ({ code: 'TIMEOUT', message: timeoutMessage(step, ms) });

export const orderMachine = setup({
  types: {} as { context: OrderContext; events: OrderEvent; input: OrderInput },
  actions: {
    enterReserving: assign({ reservationDeadline: ({ context, event }) => stepDeadline(event.now, context) }),
    keepPricing: assign({ pricing: ({ event }) => (event.type === 'STOCK_RESERVED' ? event.pricing : null) }),
    enterPaying: assign(({ context, event }) => ({
      totalPrice: context.pricing?.ok ? context.pricing.totalPrice : null,
      paymentRequested: true,
      paymentDeadline: stepDeadline(event.now, context),
      pricing: null,
    })),
    failWithPricing: assign(({ context }) => ({
      reason: context.reason ?? (context.pricing && !context.pricing.ok ? context.pricing.failure : null),
      pricing: null,
    })),
    failWith: assign({
      // The first failure sets the reason; it never changes after.
      reason: ({ context, event }) =>
        context.reason ?? ('failure' in event ? event.failure : { code: 'TIMEOUT', message: 'timed out' }),
    }),
    failWithTimeout: assign({
      reason: ({ context }) => {
        if (context.reason) return context.reason;
        if (context.paymentDeadline !== null) return timeoutFailure('payment', context.stepTimeoutMs);
        if (context.reservationDeadline !== null) return timeoutFailure('stock reservation', context.stepTimeoutMs);
        return timeoutFailure('order start', context.stepTimeoutMs);
      },
    }),
    // Undo every step that was asked for (rule `compensate-what-was-asked`,
    // docs/architecture.md): the api published order.start, so stock is always undone;
    // payment only if it was requested.
    enterCompensating: assign(({ context, event }) => ({
      stockUndo: 'pending' as UndoState,
      paymentUndo: (context.paymentRequested ? 'pending' : 'none') as UndoState,
      compensationAttempts: 1,
      compensationRetryAt: compensationRetryAt(event.now, context.compensationRetry, 1),
    })),
    scheduleCompensationRetry: assign(({ context, event }) => ({
      compensationAttempts: context.compensationAttempts + 1,
      compensationRetryAt: compensationRetryAt(event.now, context.compensationRetry, context.compensationAttempts + 1),
    })),
    // enqueueActions defined inside setup() cannot see the sibling action names' types; a
    // name the host's outbox table (src/saga/outbox.ts) lacks throws there, and the machine
    // tests pin these two.
    sendPendingUndos: enqueueActions(({ context, enqueue }) => {
      if (context.stockUndo === 'pending')
        enqueue({ type: 'publishStockRollback', params: { orderId: context.orderId } } as never);
      if (context.paymentUndo === 'pending') {
        enqueue({
          type: 'publishPaymentRefund',
          params: { orderId: context.orderId, userId: context.userId },
        } as never);
      }
    }),
    confirmStockUndo: assign({ stockUndo: 'confirmed' as UndoState }),
    confirmPaymentUndo: assign({
      paymentUndo: ({ context }) => (context.paymentUndo === 'pending' ? 'confirmed' : context.paymentUndo),
    }),
    clearWaits: assign({ reservationDeadline: null, paymentDeadline: null, compensationRetryAt: null }),
    /** Appends the state just entered to the order's history, at the event's time. */
    record: assign({
      history: ({ context, event }, params: { status: Status }) => [
        ...context.history,
        { status: params.status, at: event.now },
      ],
    }),
    // Effects: the host maps each to a topic. Bodies are plain data so they persist in the outbox.
    publishPaymentRequest: (_, _params: { orderId: string; userId: string; amount: number }) => {},
    publishStockRollback: (_, _params: { orderId: string }) => {},
    publishPaymentRefund: (_, _params: { orderId: string; userId: string }) => {},
    publishOrderCompleted: (_, _params: { orderId: string; userId: string; totalPrice: number }) => {},
    publishOrderCancel: (
      _,
      _params: { orderId: string; userId: string; status: 'CANCELLED' | 'REJECTED'; reason: Failure },
    ) => {},
  },
  guards: {
    startDeadlinePassed: ({ context, event }) => event.now >= context.startDeadline,
    reservationDeadlinePassed: ({ context, event }) =>
      context.reservationDeadline !== null && event.now >= context.reservationDeadline,
    paymentDeadlinePassed: ({ context, event }) =>
      context.paymentDeadline !== null && event.now >= context.paymentDeadline,
    compensationRetryDue: ({ context, event }) =>
      context.compensationRetryAt !== null && event.now >= context.compensationRetryAt,
    pricedOk: ({ context }) => context.pricing?.ok === true,
    everyUndoConfirmed: ({ context }) => context.stockUndo !== 'pending' && context.paymentUndo !== 'pending',
    stockUndoPending: ({ context }) => context.stockUndo === 'pending',
    paymentUndoPending: ({ context }) => context.paymentUndo === 'pending',
  },
}).createMachine({
  id: 'order',
  initial: 'PENDING',
  // transition() builds its inert actor by computing an initial context with no input;
  // answering that with a placeholder (instead of throwing on input.createdAt) halves the
  // cost of every step. Real orders always start through initialTransition with input.
  context: ({ input }) => (input === undefined ? ({} as OrderContext) : initialContext(input)),
  states: {
    PENDING: {
      on: {
        START: { target: 'RESERVING' },
        // stock.success may overtake the saga's own copy of order.start: go straight on.
        STOCK_RESERVED: { target: 'ORDERING', actions: 'keepPricing' },
        STOCK_REFUSED: { target: 'REJECTED', actions: 'failWith' },
        TIMEOUT: { guard: 'startDeadlinePassed', target: 'COMPENSATING', actions: 'failWithTimeout' },
      },
    },
    RESERVING: {
      entry: ['enterReserving', { type: 'record', params: { status: 'RESERVING' } }],
      on: {
        STOCK_RESERVED: { target: 'ORDERING', actions: 'keepPricing' },
        STOCK_REFUSED: { target: 'REJECTED', actions: 'failWith' },
        TIMEOUT: { guard: 'reservationDeadlinePassed', target: 'COMPENSATING', actions: 'failWithTimeout' },
      },
    },
    // Passed through while handling stock.success: the host priced the order already.
    ORDERING: {
      entry: { type: 'record', params: { status: 'ORDERING' } },
      always: [
        { guard: 'pricedOk', target: 'PAYING', actions: 'enterPaying' },
        { target: 'COMPENSATING', actions: 'failWithPricing' },
      ],
    },
    PAYING: {
      entry: [
        { type: 'record', params: { status: 'PAYING' } },
        {
          type: 'publishPaymentRequest',
          params: ({ context }) => ({
            orderId: context.orderId,
            userId: context.userId,
            amount: context.totalPrice ?? 0,
          }),
        },
      ],
      on: {
        PAYMENT_CHARGED: { target: 'COMPLETED' },
        PAYMENT_REFUSED: { target: 'COMPENSATING', actions: 'failWith' },
        TIMEOUT: { guard: 'paymentDeadlinePassed', target: 'COMPENSATING', actions: 'failWithTimeout' },
      },
    },
    COMPENSATING: {
      entry: [
        'clearWaits',
        'enterCompensating',
        { type: 'record', params: { status: 'COMPENSATING' } },
        'sendPendingUndos',
      ],
      always: { guard: 'everyUndoConfirmed', target: 'CANCELLED' },
      on: {
        STOCK_RELEASED: { actions: 'confirmStockUndo' },
        PAYMENT_REFUNDED: { actions: 'confirmPaymentUndo' },
        TIMEOUT: { guard: 'compensationRetryDue', actions: ['scheduleCompensationRetry', 'sendPendingUndos'] },
      },
    },
    COMPLETED: {
      type: 'final',
      entry: [
        'clearWaits',
        { type: 'record', params: { status: 'COMPLETED' } },
        {
          type: 'publishOrderCompleted',
          params: ({ context }) => ({
            orderId: context.orderId,
            userId: context.userId,
            totalPrice: context.totalPrice ?? 0,
          }),
        },
      ],
    },
    REJECTED: {
      type: 'final',
      entry: [
        'clearWaits',
        { type: 'record', params: { status: 'REJECTED' } },
        { type: 'publishOrderCancel', params: ({ context }) => cancelBody(context, 'REJECTED') },
      ],
    },
    CANCELLED: {
      type: 'final',
      entry: [
        'clearWaits',
        { type: 'record', params: { status: 'CANCELLED' } },
        { type: 'publishOrderCancel', params: ({ context }) => cancelBody(context, 'CANCELLED') },
      ],
    },
  },
});

/** An order's first context, from its input: what the machine's `context` factory answers. */
export function initialContext(input: OrderInput): OrderContext {
  // Object.assign, not `{ ...input, startDeadline, ... }`: V8 (Node 20) builds a spread
  // followed by new keys one key at a time on a slow path (about 1 µs a key, 15 µs here),
  // and every order pays this once.
  const fresh: Omit<OrderContext, keyof OrderInput> = {
    startDeadline: stepDeadline(input.createdAt, input),
    reservationDeadline: null,
    paymentDeadline: null,
    compensationRetryAt: null,
    compensationAttempts: 0,
    paymentRequested: false,
    stockUndo: 'none',
    paymentUndo: 'none',
    pricing: null,
    totalPrice: null,
    reason: null,
    history: [{ status: 'PENDING', at: input.createdAt }],
  };
  return Object.assign({}, input, fresh);
}

function cancelBody(context: OrderContext, status: 'CANCELLED' | 'REJECTED') {
  return {
    orderId: context.orderId,
    userId: context.userId,
    status,
    reason: context.reason ?? { code: 'TIMEOUT' as const, message: 'cancelled' },
  };
}

/** The absolute time at which the order next needs a TIMEOUT, or null when nothing waits. */
export const nextWakeUp = (status: Status, context: OrderContext): number | null => wakeUpOf(status, context);
