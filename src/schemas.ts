/** Shapes shared by the HTTP API and the topic payloads, so the two can never disagree. */
import { z } from 'zod';
import {
  OrderStatuses,
  TerminalStatuses as FinalStates,
  type LineItem,
  type Status,
} from '../machines/order.machine.ts';
import { ReasonCodes } from './errors.ts';

export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER; // 2^53-1: Lua numbers are doubles

export const Id = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must match ^[A-Za-z0-9_.:-]{1,64}$');
export const Amount = z.number().int('must be an integer').min(0).max(MAX_AMOUNT);

export const Item = z.strictObject({
  productId: Id,
  quantity: z.number().int('must be an integer').min(1).max(1000),
}) satisfies z.ZodType<LineItem>;
/** One line item type: the machine's. */
export type Item = LineItem;

export const Items = z
  .array(Item)
  .min(1)
  .max(50)
  .superRefine((items, ctx) => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (seen.has(item.productId)) {
        ctx.addIssue({ code: 'custom', path: [i, 'productId'], message: `productId ${item.productId} appears twice` });
      }
      seen.add(item.productId);
    });
  });

/** The machine's statuses (machines/order.machine.ts is their one source). */
export { OrderStatuses };
export type OrderStatus = Status;
export const TerminalStatuses: ReadonlySet<OrderStatus> = new Set(FinalStates);
export const isTerminal = (s: OrderStatus): boolean => TerminalStatuses.has(s);

/**
 * The longest free text a payload may carry (a refusal's `message`, a reason's message),
 * in UTF-16 code units as zod counts them. Text the system copies from one message into
 * another goes through `clipText` on the way, so the saga never writes what a schema
 * refuses (rule `two-kinds-of-failure`, docs/architecture.md).
 */
export const MAX_TEXT_LENGTH = 1_000;
export const Text = z.string().max(MAX_TEXT_LENGTH);

const ELLIPSIS = '…';

/** `text` cut to MAX_TEXT_LENGTH, ending in an ellipsis when it was cut. */
export function clipText(text: string): string {
  if (text.length <= MAX_TEXT_LENGTH) return text;
  let cut = MAX_TEXT_LENGTH - ELLIPSIS.length;
  // Never leave half of a surrogate pair behind.
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return text.slice(0, cut) + ELLIPSIS;
}

export const Reason = z.object({ code: z.enum(ReasonCodes), message: Text });
export type Reason = z.infer<typeof Reason>;

/** What GET /orders/{id} returns; kept by the store beside the saga snapshot. */
export interface OrderView {
  orderId: string;
  userId: string;
  items: Item[];
  status: OrderStatus;
  reason?: Reason;
  totalPrice?: number;
  history: { status: OrderStatus; at: string }[];
}
