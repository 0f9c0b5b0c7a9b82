/**
 * Persisting and stepping the order machine. The store holds `PersistedOrder` (JSON);
 * the host restores it, steps it with xstate's pure `transition()`, and writes back the
 * result with the outbox built from the returned actions.
 */
import { createActor, type SnapshotFrom } from 'xstate';
import {
  MACHINE_VERSION,
  nextWakeUp,
  orderMachine,
  type OrderContext,
  type OrderEvent,
  type OrderInput,
  type Status,
} from '../../machines/order.machine.ts';
import { UnsupportedVersionError } from '../errors.ts';
import type { OrderView } from '../schemas.ts';
import { message, Topics, type OutMessage, type TopicName } from '../topics.ts';

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
  return policy && policy.factor === undefined ? { ...context, compensationRetry: { ...context.compensationRetry, factor: 2 } } : context;
}

export const statusOf = (snapshot: OrderSnapshot): Status => snapshot.value as Status;

export function viewOf(snapshot: OrderSnapshot): OrderView {
  const c = snapshot.context;
  const view: OrderView = {
    orderId: c.orderId,
    userId: c.userId,
    items: c.items,
    status: statusOf(snapshot),
    history: c.history.map((h) => ({ status: h.status, at: new Date(h.at).toISOString() })),
  };
  if (c.reason) view.reason = c.reason;
  if (c.totalPrice !== null) view.totalPrice = c.totalPrice;
  return view;
}

type ActorScope = Parameters<typeof orderMachine.transition>[2];
type ActionObject = { type: string; params?: unknown };

/**
 * What xstate's pure transition() does, with one inert actor scope built once instead of
 * an actor per call (that construction was a third of every step). Safe to share: a
 * transition runs synchronously to its end, and the actions it would execute are only
 * collected, never run.
 */
let collected: ActionObject[] = [];
const inertScope: ActorScope = (() => {
  const self = createActor(orderMachine, {} as never); // no input: the context factory answers a placeholder
  return {
    self,
    defer: () => {},
    id: '',
    logger: () => {},
    sessionId: '',
    stopChild: () => {},
    system: self.system,
    emit: () => {},
    actionExecutor: (action: ActionObject) => {
      collected.push(action);
    },
  } as unknown as ActorScope;
})();

export const wakeAtOf = (snapshot: OrderSnapshot): number | null => nextWakeUp(statusOf(snapshot), snapshot.context);

export function newOrderSaga(input: OrderInput): { snapshot: PersistedOrder; view: OrderView; wakeAt: number } {
  const snapshot = orderMachine.getInitialSnapshot(inertScope, input);
  return { snapshot: persist(snapshot), view: viewOf(snapshot), wakeAt: snapshot.context.startDeadline };
}

export interface Step {
  next: OrderSnapshot;
  outbox: OutMessage[];
  /** False when the event caused no transition (xstate returns the same snapshot). */
  changed: boolean;
}

/** Which topic each effect action of the machine publishes to. */
const effectTopics: Record<string, TopicName> = {
  publishPaymentRequest: Topics.paymentRequest,
  publishStockRollback: Topics.stockRollback,
  publishPaymentRefund: Topics.paymentRefund,
  publishOrderCompleted: Topics.orderCompleted,
  publishOrderCancel: Topics.orderCancel,
};

function transition(snapshot: OrderSnapshot, event: OrderEvent): [OrderSnapshot, ActionObject[]] {
  collected = [];
  const next = orderMachine.transition(snapshot, event, inertScope);
  const actions = collected;
  collected = [];
  return [next, actions];
}

export function step(snapshot: OrderSnapshot, event: OrderEvent, headers?: Record<string, string>): Step {
  const [next, actions] = transition(snapshot, event);
  const outbox: OutMessage[] = [];
  for (const action of actions) {
    const topic = effectTopics[action.type];
    if (topic) outbox.push(message(topic, action.params as never, headers));
  }
  return { next, outbox, changed: next !== snapshot };
}

export const isDone = (snapshot: OrderSnapshot): boolean => snapshot.status === 'done';
