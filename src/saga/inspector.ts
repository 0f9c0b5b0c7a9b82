/**
 * What the saga host tells an inspector (e.g. the Stately inspector, `INSPECT=1`): each
 * committed transition, after its compare-and-set write succeeded. Optional, and never
 * allowed to fail the saga: implementations swallow their own errors.
 */
import type { OrderEvent } from '../../machines/order.machine.ts';
import type { OrderSnapshot } from './persisted.ts';

export interface SagaInspector {
  onTransition(orderId: string, event: OrderEvent, snapshot: OrderSnapshot): void;
  stop?(): void;
}
