/**
 * Reserve, release, charge and refund (rule `idempotent-effects`, docs/architecture.md):
 * each one Lua script that records its outcome with the orderId in the counter's slot,
 * refusals included, and repeats it. Quantities and amounts are checked here and again in
 * Lua (doubles are exact only up to 2^53-1); they travel as decimal strings.
 */
import type {
  ChargeOutcome,
  PaymentRefusal,
  ReserveOutcome,
  StockRefusal,
  UndoOutcome,
} from '../../../src/ports/store.ts';
import type { Item } from '../../../src/schemas.ts';
import { call } from './connection.ts';
import type { Ctx } from './context.ts';
import type { Reply } from './scripts.ts';
import { demand } from '../demand.ts';

/**
 * The scripts read `now` only to see whether a record has expired: a write never starts
 * a record's clock, the order's terminal commit does (./retention.ts).
 */
const nowArg = (ctx: Ctx): string => String(ctx.clock.now());

function outcome<C extends string>(
  reply: Reply,
  cancelled: string,
): { ok: true } | { ok: false; code: C | 'CANCELLED'; message: string } {
  if (!Array.isArray(reply)) throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  switch (reply[0]) {
    case 'ok':
      return { ok: true };
    case 'refused':
      return { ok: false, code: String(reply[1]) as C, message: String(reply[2]) };
    case 'cancelled':
      return { ok: false, code: 'CANCELLED', message: cancelled };
    default:
      throw new Error(`unexpected script reply ${JSON.stringify(reply)}`);
  }
}

export async function reserve(ctx: Ctx, orderId: string, items: readonly Item[]): Promise<ReserveOutcome> {
  const wanted = demand(items);
  const ids = [...wanted.keys()];
  const keys = [...ids.map((id) => ctx.keys.stockRecord(id, orderId)), ...ids.map((id) => ctx.keys.product(id))];
  const args = [nowArg(ctx), ...ids.flatMap((id) => [id, String(wanted.get(id))])];
  const reply = await call(ctx.scripts.reserve(keys, args));
  return outcome<Exclude<StockRefusal, 'CANCELLED'>>(
    reply,
    `order ${orderId} was cancelled before its stock was reserved`,
  );
}

export async function release(ctx: Ctx, orderId: string, items: readonly Item[]): Promise<UndoOutcome> {
  const ids = [...new Set(items.map((i) => i.productId))];
  const keys = [...ids.map((id) => ctx.keys.stockRecord(id, orderId)), ...ids.map((id) => ctx.keys.product(id))];
  const reply = await call(ctx.scripts.release(keys, [nowArg(ctx)]));
  return { undone: reply === 1 };
}

export async function charge(ctx: Ctx, orderId: string, userId: string, amount: number): Promise<ChargeOutcome> {
  if (typeof amount !== 'number') throw new TypeError(`amount must be a number, got ${typeof amount}`);
  // An amount outside 0..2^53-1 is a recorded LIMIT_EXCEEDED refusal, not an error: the
  // script checks the text (String(1.5) is "1.5", String(2 ** 53) is "9007199254740992").
  const keys = [ctx.keys.paymentRecord(userId, orderId), ctx.keys.user(userId)];
  const reply = await call(ctx.scripts.charge(keys, [nowArg(ctx), userId, String(amount)]));
  return outcome<Exclude<PaymentRefusal, 'CANCELLED'>>(reply, `order ${orderId} was cancelled before it was charged`);
}

export async function refund(ctx: Ctx, orderId: string, userId: string): Promise<UndoOutcome> {
  const keys = [ctx.keys.paymentRecord(userId, orderId), ctx.keys.user(userId)];
  const reply = await call(ctx.scripts.refund(keys, [nowArg(ctx)]));
  return { undone: reply === 1 };
}
