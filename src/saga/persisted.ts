/**
 * The order's snapshot as the store keeps it (`PersistedOrder`, JSON, tagged with the
 * machine's version) and what the host reads off a live snapshot.
 */
import type { SnapshotFrom } from 'xstate';
import {
  MACHINE_VERSION,
  nextWakeUp,
  orderMachine,
  type OrderContext,
  type Status,
} from '../../machines/order.machine.ts';
import { UnsupportedVersionError } from '../errors.ts';

export type OrderSnapshot = SnapshotFrom<typeof orderMachine>;

export interface PersistedOrder {
  v: number;
  value: Status;
  context: OrderContext;
}

export function persist(snapshot: OrderSnapshot): PersistedOrder {
  return { v: MACHINE_VERSION, value: snapshot.value as Status, context: snapshot.context };
}

export function restore(persisted: unknown): OrderSnapshot {
  const p = persisted as Partial<PersistedOrder> | null;
  if (!p || p.v !== MACHINE_VERSION) throw new UnsupportedVersionError('order snapshot', p?.v);
  return orderMachine.resolveState({ value: p.value as Status, context: withFactor(p.context as OrderContext) });
}

/** Snapshots stored before the compensation policy carried its factor always doubled. */
function withFactor(context: OrderContext): OrderContext {
  const policy = context.compensationRetry as Partial<OrderContext['compensationRetry']> | undefined;
  return policy && policy.factor === undefined
    ? { ...context, compensationRetry: { ...context.compensationRetry, factor: 2 } }
    : context;
}

export const statusOf = (snapshot: OrderSnapshot): Status => snapshot.value as Status;

export const wakeAtOf = (snapshot: OrderSnapshot): number | null => nextWakeUp(statusOf(snapshot), snapshot.context);

export const isDone = (snapshot: OrderSnapshot): boolean => snapshot.status === 'done';
