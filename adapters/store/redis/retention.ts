/**
 * Effect records have no expiry while their order is in flight, and expire
 * effectRetentionMs after its terminal commit (rule `idempotent-effects`, docs/architecture.md). The records sit in their
 * counters' slots ({p:…}, {u:…}), so the commit that makes an order terminal cannot set
 * their TTL in its own script; it adds an entry to the retention index instead, in the
 * same atomic write. retainEffects then leases due entries, sets each record's expiry
 * with one single-slot script per record (retain_effect.lua: idempotent, never earlier
 * than a clock already running), and removes the entry only after all of them. A process
 * that dies in between leaves the entry, which another call takes when the lease ends:
 * the TTL may be set late, never lost. The entry names everything needed, so it does not
 * depend on the order's row, which may expire first.
 */
import type { OrderView } from '../../../src/schemas.ts';
import { call } from './connection.ts';
import { EXPIRY_MARGIN_MS, type Ctx } from './context.ts';

type Entry = [orderId: string, terminalAt: number, userId: string, productIds: string[]];

/** The index member of a terminal commit at `at`: the order's effect records are named by it. */
export function retentionEntry(view: OrderView, at: number): string {
  const entry: Entry = [view.orderId, at, view.userId, [...new Set(view.items.map((i) => i.productId))]];
  return JSON.stringify(entry);
}

export async function retainEffects(ctx: Ctx, now: number, limit: number, leaseMs: number): Promise<number> {
  const max = Math.min(Math.floor(limit), Number.MAX_SAFE_INTEGER);
  if (!(max > 0)) return 0;
  if (!Number.isFinite(now) || !Number.isFinite(now + leaseMs))
    throw new RangeError(`now and lease end must be finite, got ${now}, ${leaseMs}`);
  const reply = await call(
    ctx.scripts.claim_retention([ctx.keys.retention], [String(now), String(max), String(now + leaseMs)]),
  );
  if (!Array.isArray(reply)) throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  const entries = reply.map(String);
  await Promise.all(entries.map((entry) => retainOne(ctx, entry)));
  return entries.length;
}

async function retainOne(ctx: Ctx, entry: string): Promise<void> {
  const [orderId, terminalAt, userId, productIds] = JSON.parse(entry) as Entry;
  const expireAt = terminalAt + ctx.effectRetentionMs;
  const records = [...productIds.map((p) => ctx.keys.stockRecord(p, orderId)), ctx.keys.paymentRecord(userId, orderId)];
  // One clock reading for every record of the entry; the real TTL backs the data-level one.
  const now = ctx.clock.now();
  const args = [String(now), String(expireAt), String(Math.ceil(expireAt - now + EXPIRY_MARGIN_MS))];
  await Promise.all(records.map((key) => call(ctx.scripts.retain_effect([key], args))));
  await call(ctx.client.zrem(ctx.keys.retention, entry));
}
