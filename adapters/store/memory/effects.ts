/**
 * Reserve, release, charge and refund, each idempotent by orderId (rule
 * `idempotent-effects`, docs/architecture.md): the first call records its outcome, refusals
 * included, and every repeat answers from the record. An undo that finds no record leaves a
 * tombstone, so the late effect is refused. Each function runs synchronously, which is what
 * makes it atomic (as one Lua script).
 */
import type { ChargeOutcome, ReserveOutcome, UndoOutcome } from '../../../src/ports/store.ts';
import { MAX_AMOUNT, type Item } from '../../../src/schemas.ts';
import { isAmount } from './catalogue.ts';
import type { PaymentRecord, StockRecord } from './records.ts';
import type { MemoryState } from './state.ts';
import { demand } from '../demand.ts';

const credit = (counter: number, amount: number): number => Math.min(MAX_AMOUNT, counter + amount);

function stockReply(orderId: string, record: StockRecord): ReserveOutcome {
  switch (record.kind) {
    case 'reserved':
      return { ok: true };
    case 'refused':
      return { ok: false, code: record.code, message: record.message };
    case 'tombstone':
      return { ok: false, code: 'CANCELLED', message: `order ${orderId} was cancelled before its stock was reserved` };
  }
}

function paymentReply(orderId: string, record: PaymentRecord): ChargeOutcome {
  switch (record.kind) {
    case 'charged':
      return { ok: true };
    case 'refused':
      return { ok: false, code: record.code, message: record.message };
    case 'tombstone':
      return { ok: false, code: 'CANCELLED', message: `order ${orderId} was cancelled before it was charged` };
  }
}

function refusal(state: MemoryState, wanted: Map<string, number>): Extract<StockRecord, { kind: 'refused' }> | null {
  const items: Item[] = [...wanted].map(([productId, quantity]) => ({ productId, quantity }));
  for (const { productId } of items) {
    if (!state.products.has(productId)) {
      return { kind: 'refused', code: 'UNKNOWN_PRODUCT', message: `unknown product ${productId}`, items };
    }
  }
  for (const { productId, quantity } of items) {
    const stock = state.products.get(productId)!.stock;
    if (stock < quantity) {
      const message = `product ${productId} has ${stock} in stock, ${quantity} asked`;
      return { kind: 'refused', code: 'OUT_OF_STOCK', message, items };
    }
  }
  return null;
}

export function reserve(state: MemoryState, orderId: string, items: readonly Item[]): ReserveOutcome {
  const recorded = state.stockRecord(orderId);
  if (recorded !== undefined) return stockReply(orderId, recorded);
  const wanted = demand(items);
  const refused = refusal(state, wanted);
  if (refused !== null) {
    state.writeStock(orderId, refused);
    return stockReply(orderId, refused);
  }
  for (const [productId, quantity] of wanted) state.products.get(productId)!.stock -= quantity;
  const reserved: StockRecord = {
    kind: 'reserved',
    items: [...wanted].map(([productId, quantity]) => ({ productId, quantity })),
    released: false,
  };
  state.writeStock(orderId, reserved);
  return { ok: true };
}

export function release(state: MemoryState, orderId: string): UndoOutcome {
  const recorded = state.stockRecord(orderId);
  if (recorded === undefined) {
    state.writeStock(orderId, { kind: 'tombstone' });
    return { undone: false };
  }
  if (recorded.kind !== 'reserved' || recorded.released) return { undone: false };
  for (const { productId, quantity } of recorded.items) {
    // Products are never deleted, so the product is there; the cap only bites if an
    // admin raised the stock while this reservation was out.
    const product = state.products.get(productId);
    if (product !== undefined) product.stock = credit(product.stock, quantity);
  }
  state.writeStock(orderId, { ...recorded, released: true });
  return { undone: true };
}

function chargeRefusal(
  state: MemoryState,
  userId: string,
  amount: number,
): Extract<PaymentRecord, { kind: 'refused' }> | null {
  const user = state.users.get(userId);
  if (user === undefined)
    return { kind: 'refused', code: 'UNKNOWN_USER', message: `unknown user ${userId}`, userId, amount };
  if (!isAmount(amount)) {
    const message = `amount ${amount} is not an integer in 0..${MAX_AMOUNT}`;
    return { kind: 'refused', code: 'LIMIT_EXCEEDED', message, userId, amount };
  }
  if (user.balance < amount) {
    const message = `user ${userId} has a balance of ${user.balance}, ${amount} asked`;
    return { kind: 'refused', code: 'INSUFFICIENT_BALANCE', message, userId, amount };
  }
  return null;
}

export function charge(state: MemoryState, orderId: string, userId: string, amount: number): ChargeOutcome {
  const recorded = state.paymentRecord(orderId);
  if (recorded !== undefined) return paymentReply(orderId, recorded);
  const refused = chargeRefusal(state, userId, amount);
  if (refused !== null) {
    state.writePayment(orderId, refused);
    return paymentReply(orderId, refused);
  }
  state.users.get(userId)!.balance -= amount;
  state.writePayment(orderId, { kind: 'charged', userId, amount, refunded: false });
  return { ok: true };
}

export function refund(state: MemoryState, orderId: string): UndoOutcome {
  const recorded = state.paymentRecord(orderId);
  if (recorded === undefined) {
    state.writePayment(orderId, { kind: 'tombstone' });
    return { undone: false };
  }
  if (recorded.kind !== 'charged' || recorded.refunded) return { undone: false };
  // Users are never deleted; the cap only bites if an admin raised the balance meanwhile.
  const user = state.users.get(recorded.userId);
  if (user !== undefined) user.balance = credit(user.balance, recorded.amount);
  state.writePayment(orderId, { ...recorded, refunded: true });
  return { undone: true };
}
