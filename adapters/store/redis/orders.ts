/**
 * Saga rows, order views, idempotency keys, status counts and the deadline index (rules
 * `store-is-truth`, `outbox-in-snapshot`, `deadlines-are-data`; docs/architecture.md).
 * Every write is one script; values are serialized before the call, so a value that cannot
 * be stored leaves nothing half-written.
 */
import type { CreateOutcome, NewOrder, SagaRecord, SagaWrite } from '../../../src/ports/store.ts';
import { OrderStatuses, type OrderStatus, type OrderView } from '../../../src/schemas.ts';
import { call } from './connection.ts';
import { ttlOf, type Ctx } from './context.ts';
import { retentionEntry } from './retention.ts';

/** JSON text in, fresh objects out: the same round trip as the memory store's. */
const toJson = (value: unknown): string => JSON.stringify(value) ?? 'null';

function score(n: number, what: string): string {
  if (!Number.isFinite(n)) throw new RangeError(`${what} must be a finite number, got ${n}`);
  return String(n);
}

export async function createOrder(ctx: Ctx, order: NewOrder): Promise<CreateOutcome> {
  const { keys } = ctx;
  const idem = order.idempotency;
  const args = [
    String(ctx.clock.now()),
    keys.prefix,
    order.orderId,
    toJson(order.snapshot),
    toJson(order.view),
    order.view.status,
    score(order.wakeAt, 'wakeAt'),
  ];
  const scriptKeys = [keys.order(order.orderId), keys.deadlines, keys.counts];
  if (idem !== undefined) {
    scriptKeys.push(keys.idempotency(idem.key));
    args.push(idem.key, idem.bodyHash);
  }
  const reply = await call(ctx.scripts.create_order(scriptKeys, args));
  if (!Array.isArray(reply)) throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  switch (reply[0]) {
    case 'created':
      return { created: true };
    case 'claimed':
      return { created: false, orderId: String(reply[1]), sameBody: reply[2] === '1' };
    case 'exists':
      // Order ids are minted by the api; a clash is a bug, never a client's repeat.
      throw new Error(`order ${order.orderId} already exists`);
    default:
      throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  }
}

const readArgs = (ctx: Ctx, orderId: string, what: 'view' | 'saga') => ({
  keys: [ctx.keys.order(orderId), ctx.keys.deadlines],
  args: [String(ctx.clock.now()), ctx.keys.prefix, orderId, what],
});

export async function getOrder(ctx: Ctx, orderId: string): Promise<OrderView | null> {
  const { keys, args } = readArgs(ctx, orderId, 'view');
  const reply = await call(ctx.scripts.read_order(keys, args));
  return reply === null ? null : (JSON.parse(String(reply)) as OrderView);
}

export async function idempotencyClaim(ctx: Ctx, key: string): Promise<string | null> {
  const orderId = await call(ctx.client.hget(ctx.keys.idempotency(key), 'order'));
  // The key's own TTL runs on Redis' clock; the row's liveness on ours (the injected clock).
  return orderId !== null && (await getOrder(ctx, orderId)) !== null ? orderId : null;
}

export async function loadSaga(ctx: Ctx, orderId: string): Promise<SagaRecord | null> {
  const { keys, args } = readArgs(ctx, orderId, 'saga');
  const reply = await call(ctx.scripts.read_order(keys, args));
  if (reply === null) return null;
  if (!Array.isArray(reply)) throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  const [version, snapshot, outbox, sent] = reply.map(String);
  return {
    version: Number(version),
    snapshot: JSON.parse(snapshot!) as unknown,
    outbox: JSON.parse(outbox!) as SagaRecord['outbox'],
    outboxSent: sent === '1',
  };
}

export async function commitSaga(
  ctx: Ctx,
  orderId: string,
  expectedVersion: number,
  write: SagaWrite,
): Promise<boolean> {
  const { keys } = ctx;
  const now = ctx.clock.now();
  const view = toJson(write.view);
  const args = [
    String(now),
    keys.prefix,
    orderId,
    String(expectedVersion),
    toJson(write.snapshot),
    toJson(write.outbox),
    write.outbox.length === 0 ? '1' : '0',
    view,
    write.view.status,
    write.wakeAt === null ? '' : score(write.wakeAt, 'wakeAt'),
    write.terminal ? '1' : '0',
    String(now + ctx.orderRetentionMs),
    ttlOf(ctx.orderRetentionMs),
    keys.views,
    write.terminal ? retentionEntry(write.view, now) : '',
  ];
  const scriptKeys = [keys.order(orderId), keys.deadlines, keys.counts, keys.retention];
  const reply = await call(ctx.scripts.commit_saga(scriptKeys, args));
  return reply === 1;
}

export async function statusCounts(ctx: Ctx): Promise<Record<OrderStatus, number>> {
  const counts = await call(ctx.client.hgetall(ctx.keys.counts));
  return Object.fromEntries(OrderStatuses.map((s) => [s, Number(counts[s] ?? 0)])) as Record<OrderStatus, number>;
}

export async function markOutboxSent(ctx: Ctx, orderId: string, version: number): Promise<void> {
  const args = [String(ctx.clock.now()), ctx.keys.prefix, orderId, String(version)];
  await call(ctx.scripts.mark_sent([ctx.keys.order(orderId), ctx.keys.deadlines], args));
}

export async function claimDue(ctx: Ctx, now: number, limit: number, leaseMs: number): Promise<string[]> {
  const max = Math.min(Math.floor(limit), Number.MAX_SAFE_INTEGER);
  if (!(max > 0)) return [];
  const args = [
    String(ctx.clock.now()),
    score(now, 'now'),
    String(max),
    score(now + leaseMs, 'lease end'),
    ctx.keys.prefix,
  ];
  const reply = await call(ctx.scripts.claim_due([ctx.keys.deadlines], args));
  if (!Array.isArray(reply)) throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  return reply.map(String);
}
