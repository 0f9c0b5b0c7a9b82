/**
 * Reserve, release, charge and refund (rule `idempotent-effects`, docs/architecture.md):
 * each one Lua script that records its outcome with the orderId in the counter's slot,
 * refusals included, and repeats it. Quantities and amounts are checked here and again in
 * Lua (doubles are exact only up to 2^53-1); they travel as decimal strings.
 */
import type { OrderCheck } from '../../../src/order-check.ts';
import type {
  ChargeOutcome,
  Checked,
  PaymentRefusal,
  ReserveOutcome,
  StockRefusal,
  UndoOutcome,
} from '../../../src/ports/store.ts';
import type { Item, OrderView } from '../../../src/schemas.ts';
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

function reserveCall(ctx: Ctx, orderId: string, items: readonly Item[]): { keys: string[]; args: string[] } {
  const wanted = demand(items);
  const ids = [...wanted.keys()];
  const keys = [...ids.map((id) => ctx.keys.stockRecord(id, orderId)), ...ids.map((id) => ctx.keys.product(id))];
  const args = [nowArg(ctx), ...ids.flatMap((id) => [id, String(wanted.get(id))])];
  return { keys, args };
}

const reserveOutcome = (orderId: string, reply: Reply): ReserveOutcome =>
  outcome<Exclude<StockRefusal, 'CANCELLED'>>(reply, `order ${orderId} was cancelled before its stock was reserved`);

export async function reserve(ctx: Ctx, orderId: string, items: readonly Item[]): Promise<ReserveOutcome> {
  const { keys, args } = reserveCall(ctx, orderId, items);
  return reserveOutcome(orderId, await call(ctx.scripts.reserve(keys, args)));
}

/** What lua/check.lua takes after the effect's own keys and arguments. */
function checkCall(ctx: Ctx, check: OrderCheck): { keys: string[]; args: string[] } {
  const items = check.items ?? [];
  return {
    keys: [ctx.keys.order(check.orderId), ctx.keys.deadlines],
    args: [
      ctx.keys.prefix,
      check.orderId,
      check.userId,
      check.totalPrice === undefined ? '' : String(check.totalPrice),
      ...items.flatMap((i) => [i.productId, String(i.quantity)]),
      String(items.length),
    ],
  };
}

/** The check's answer when the order disagreed, else the effect's outcome. */
function checked<T>(reply: Reply, effect: (reply: Reply) => T): Checked<T> {
  if (Array.isArray(reply) && reply[0] === 'no-order') return { agreed: false, view: null };
  if (Array.isArray(reply) && reply[0] === 'mismatch')
    return { agreed: false, view: JSON.parse(String(reply[1])) as OrderView };
  return { agreed: true, outcome: effect(reply) };
}

export async function reserveChecked(
  ctx: Ctx,
  check: OrderCheck & { items: readonly Item[] },
): Promise<Checked<ReserveOutcome>> {
  const effect = reserveCall(ctx, check.orderId, check.items);
  const order = checkCall(ctx, check);
  const reply = await call(
    ctx.scripts.reserve_checked([...effect.keys, ...order.keys], [...effect.args, ...order.args]),
  );
  return checked(reply, (r) => reserveOutcome(check.orderId, r));
}

export async function release(ctx: Ctx, orderId: string, items: readonly Item[]): Promise<UndoOutcome> {
  const ids = [...new Set(items.map((i) => i.productId))];
  const keys = [...ids.map((id) => ctx.keys.stockRecord(id, orderId)), ...ids.map((id) => ctx.keys.product(id))];
  const reply = await call(ctx.scripts.release(keys, [nowArg(ctx)]));
  return { undone: reply === 1 };
}

function chargeCall(ctx: Ctx, orderId: string, userId: string, amount: number): { keys: string[]; args: string[] } {
  if (typeof amount !== 'number') throw new TypeError(`amount must be a number, got ${typeof amount}`);
  // An amount outside 0..2^53-1 is a recorded LIMIT_EXCEEDED refusal, not an error: the
  // script checks the text (String(1.5) is "1.5", String(2 ** 53) is "9007199254740992").
  return {
    keys: [ctx.keys.paymentRecord(userId, orderId), ctx.keys.user(userId)],
    args: [nowArg(ctx), userId, String(amount)],
  };
}

const chargeOutcome = (orderId: string, reply: Reply): ChargeOutcome =>
  outcome<Exclude<PaymentRefusal, 'CANCELLED'>>(reply, `order ${orderId} was cancelled before it was charged`);

export async function charge(ctx: Ctx, orderId: string, userId: string, amount: number): Promise<ChargeOutcome> {
  const { keys, args } = chargeCall(ctx, orderId, userId, amount);
  return chargeOutcome(orderId, await call(ctx.scripts.charge(keys, args)));
}

export async function chargeChecked(
  ctx: Ctx,
  check: OrderCheck & { totalPrice: number },
): Promise<Checked<ChargeOutcome>> {
  const effect = chargeCall(ctx, check.orderId, check.userId, check.totalPrice);
  const order = checkCall(ctx, check);
  const reply = await call(
    ctx.scripts.charge_checked([...effect.keys, ...order.keys], [...effect.args, ...order.args]),
  );
  return checked(reply, (r) => chargeOutcome(check.orderId, r));
}

export async function refund(ctx: Ctx, orderId: string, userId: string): Promise<UndoOutcome> {
  const keys = [ctx.keys.paymentRecord(userId, orderId), ctx.keys.user(userId)];
  const reply = await call(ctx.scripts.refund(keys, [nowArg(ctx)]));
  return { undone: reply === 1 };
}
