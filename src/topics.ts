/**
 * The one place a topic name is written. Code refers to `Topics.*`, so a misspelled
 * topic (the seed's `order.cencel`) cannot compile. Every payload carries `v`.
 */
import { z } from 'zod';
import type { FailureCode } from '../machines/order.machine.ts';
import { Amount, Id, Items, Reason, Text } from './schemas.ts';

export const SCHEMA_VERSION = 1 as const;
const v = z.literal(SCHEMA_VERSION);

/**
 * Refusal codes: the machine's failure codes a worker can answer with, plus `CANCELLED`
 * (an undo came first: a tombstone). The store port's outcome types are inferred from these.
 */
type RefusalCode = FailureCode | 'CANCELLED';
export const StockRefusalCodes = [
  'OUT_OF_STOCK',
  'UNKNOWN_PRODUCT',
  'CANCELLED',
] as const satisfies readonly RefusalCode[];
export const PaymentRefusalCodes = [
  'UNKNOWN_USER',
  'INSUFFICIENT_BALANCE',
  'LIMIT_EXCEEDED',
  'CANCELLED',
] as const satisfies readonly RefusalCode[];
const StockRefusalCode = z.enum(StockRefusalCodes);
const PaymentRefusalCode = z.enum(PaymentRefusalCodes);

export const TopicSchemas = {
  'order.start': z.object({ v, orderId: Id, userId: Id, items: Items }),
  'stock.success': z.object({ v, orderId: Id, items: Items }),
  'stock.failed': z.object({ v, orderId: Id, code: StockRefusalCode, message: Text }),
  'stock.rollback': z.object({ v, orderId: Id }),
  'stock.released': z.object({ v, orderId: Id }),
  'payment.request': z.object({ v, orderId: Id, userId: Id, amount: Amount }),
  'payment.success': z.object({ v, orderId: Id }),
  'payment.failed': z.object({ v, orderId: Id, code: PaymentRefusalCode, message: Text }),
  'payment.refund': z.object({ v, orderId: Id, userId: Id }),
  'payment.refunded': z.object({ v, orderId: Id }),
  'order.completed': z.object({ v, orderId: Id, userId: Id, totalPrice: Amount }),
  'order.cancel': z.object({ v, orderId: Id, userId: Id, status: z.enum(['CANCELLED', 'REJECTED']), reason: Reason }),
} as const;

export type TopicName = keyof typeof TopicSchemas;
export type Payload<T extends TopicName> = z.infer<(typeof TopicSchemas)[T]>;
/** What a producer supplies: the payload without its version, which `message()` adds. */
export type Body<T extends TopicName> = Omit<Payload<T>, 'v'>;

export const Topics = {
  orderStart: 'order.start',
  stockSuccess: 'stock.success',
  stockFailed: 'stock.failed',
  stockRollback: 'stock.rollback',
  stockReleased: 'stock.released',
  paymentRequest: 'payment.request',
  paymentSuccess: 'payment.success',
  paymentFailed: 'payment.failed',
  paymentRefund: 'payment.refund',
  paymentRefunded: 'payment.refunded',
  orderCompleted: 'order.completed',
  orderCancel: 'order.cancel',
} as const satisfies Record<string, TopicName>;

export const AllTopics = Object.values(Topics) as TopicName[];

/** Dead-letter topic of a topic. DLQ names are derived, never written by hand. */
export type DlqName = `${TopicName}.dlq`;
const DLQ_SUFFIX = '.dlq';
export const dlqOf = (topic: TopicName): DlqName => `${topic}${DLQ_SUFFIX}`;
/** Whether a registry name (prefix removed) is a dead-letter topic. */
export const isDlqName = (name: string): name is DlqName => name.endsWith(DLQ_SUFFIX);
export type AnyTopic = TopicName | DlqName;

/** Consumer groups per role; KAFKA_GROUP_PREFIX is prepended by the launcher. */
export const Groups = {
  stock: 'stock-service',
  order: 'order-service',
  payment: 'payment-service',
} as const;

/** The roles that consume, each with its group; a process hosting all of them consumes in AllRolesGroup. */
export const ConsumingRoles = ['stock', 'order', 'payment'] as const satisfies readonly (keyof typeof Groups)[];

/**
 * The one group of a process that hosts every consuming role (`all`): its roles fetch,
 * commit and rebalance together (src/messaging/shared-group.ts). Prefixed like the others.
 */
export const AllRolesGroup = 'all-services';

/**
 * What each role consumes. The saga's inputs must be co-partitioned (rule
 * `store-is-truth`, docs/architecture.md).
 */
export const Subscriptions = {
  stock: [Topics.orderStart, Topics.stockRollback],
  order: [
    Topics.orderStart,
    Topics.stockSuccess,
    Topics.stockFailed,
    Topics.stockReleased,
    Topics.paymentSuccess,
    Topics.paymentFailed,
    Topics.paymentRefunded,
  ],
  payment: [Topics.paymentRequest, Topics.paymentRefund],
} as const satisfies Record<keyof typeof Groups, readonly TopicName[]>;

export interface OutMessage<T extends TopicName = TopicName> {
  topic: T;
  key: string;
  value: Payload<T>;
  headers?: Record<string, string>;
}

/** Builds a message keyed by orderId with the current schema version. */
export function message<T extends TopicName>(
  topic: T,
  body: Body<T> & { orderId: string },
  headers?: Record<string, string>,
): OutMessage<T> {
  const value = { v: SCHEMA_VERSION, ...body } as Payload<T>;
  return headers ? { topic, key: body.orderId, value, headers } : { topic, key: body.orderId, value };
}
