/**
 * The saga's incoming edge: for each topic the saga consumes, the event its message makes
 * for the machine. Typed by topic, so a builder sees its own payload; the host hands the
 * whole table to dispatch.
 */
import type { OrderEvent } from '../../machines/order.machine.ts';
import type { Store } from '../ports/store.ts';
import { clipText } from '../schemas.ts';
import { Subscriptions, Topics, type Payload } from '../topics.ts';
import { statusOf, type OrderSnapshot } from './persisted.ts';
import { priceOrder } from './pricing.ts';

/** Builds the event from the current snapshot, or null when the message is irrelevant to it. */
export type EventFor = (snapshot: OrderSnapshot, now: number) => Promise<OrderEvent | null>;

export type SagaInput = (typeof Subscriptions.order)[number];

type EventBuilder<T extends SagaInput> = (payload: Payload<T>, store: Store) => EventFor;

const simple =
  (make: (now: number) => OrderEvent): EventFor =>
  async (_s, now) =>
    make(now);

// A CANCELLED refusal (tombstone) only happens after compensation began; the machine
// ignores it then, so mapping it is only for the type.
const failure = (p: { code: string; message: string }) => ({
  code: (p.code === 'CANCELLED' ? 'TIMEOUT' : p.code) as Exclude<
    Payload<typeof Topics.stockFailed | typeof Topics.paymentFailed>['code'],
    'CANCELLED'
  >,
  // Copied into the order's reason and its order.cancel: kept within the schema's bound.
  message: clipText(p.message),
});

export const InboxEvents: { readonly [T in SagaInput]: EventBuilder<T> } = {
  [Topics.orderStart]: () => simple((now) => ({ type: 'START', now })),
  // ORDERING is passed through here: read the user and prices first, then feed the
  // machine the reservation and the pricing outcome in one step (one compare-and-set).
  [Topics.stockSuccess]: (_p, store) => async (snapshot, now) => {
    const status = statusOf(snapshot);
    if (status !== 'PENDING' && status !== 'RESERVING') return null;
    const { userId, items } = snapshot.context;
    return { type: 'STOCK_RESERVED', now, pricing: await priceOrder(store, userId, items) };
  },
  [Topics.stockFailed]: (p) => simple((now) => ({ type: 'STOCK_REFUSED', now, failure: failure(p) })),
  [Topics.stockReleased]: () => simple((now) => ({ type: 'STOCK_RELEASED', now })),
  [Topics.paymentSuccess]: () => simple((now) => ({ type: 'PAYMENT_CHARGED', now })),
  [Topics.paymentFailed]: (p) => simple((now) => ({ type: 'PAYMENT_REFUSED', now, failure: failure(p) })),
  [Topics.paymentRefunded]: () => simple((now) => ({ type: 'PAYMENT_REFUNDED', now })),
};

export const SagaInputs: readonly SagaInput[] = Subscriptions.order;
