import { UnknownOrderError } from '../errors.ts';
import type { Store } from '../ports/store.ts';
import type { OrderView } from '../schemas.ts';

/**
 * A command for an orderId with no record is refused (DLQ): effect records outlive order
 * records, so an old redelivery can never act twice (rule `idempotent-effects`,
 * docs/architecture.md).
 */
export async function requireOrder(store: Store, orderId: string): Promise<OrderView> {
  const view = await store.getOrder(orderId);
  if (!view) throw new UnknownOrderError(orderId);
  return view;
}
