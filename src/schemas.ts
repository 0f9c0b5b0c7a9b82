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

export const Reason = z.object({ code: z.enum(ReasonCodes), message: z.string() });
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
