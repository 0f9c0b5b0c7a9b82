/**
 * Stepping the order machine fast: what xstate's pure `transition()` does, with one inert
 * actor scope built once instead of an actor per call (that construction was a third of
 * every step). test/unit/order.machine.test.ts runs every machine path through both this
 * and `transition()` and requires the same snapshots and actions.
 */
import { createActor } from 'xstate';
import { initialContext, orderMachine, type OrderEvent, type OrderInput } from '../../machines/order.machine.ts';
import type { OrderView } from '../schemas.ts';
import type { OutMessage } from '../topics.ts';
import { toOutbox, type ActionObject } from './outbox.ts';
import { persist, type OrderSnapshot, type PersistedOrder } from './persisted.ts';
import { viewOf } from './view.ts';

type ActorScope = Parameters<typeof orderMachine.transition>[2];

/**
 * Safe to share: a transition runs synchronously to its end, and the actions it would
 * execute are only collected, never run.
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

/** The next snapshot and the actions to run, like xstate's `transition(orderMachine, snapshot, event)`. */
export function fastTransition(snapshot: OrderSnapshot, event: OrderEvent): [OrderSnapshot, ActionObject[]] {
  collected = [];
  const next = orderMachine.transition(snapshot, event, inertScope);
  const actions = collected;
  collected = [];
  return [next, actions];
}

/**
 * The machine's first state, when entering it does nothing but take the input's context: no
 * entry action (here or on the root) and no eventless transition. Then the first snapshot
 * is that state with that context, and resolveState builds it for a fifth of what
 * getInitialSnapshot's full initial step costs (every order pays it once, at accept).
 */
const inertInitialState: string | null = (() => {
  const first = orderMachine.root.initial?.target[0];
  if (!first || orderMachine.root.entry.length > 0 || first.entry.length > 0 || (first.always?.length ?? 0) > 0)
    return null;
  return first.key;
})();

/** The first snapshot of an order, like xstate's `initialTransition(orderMachine, input)`. */
export const fastInitialSnapshot = (input: OrderInput): OrderSnapshot =>
  inertInitialState === null
    ? orderMachine.getInitialSnapshot(inertScope, input)
    : orderMachine.resolveState({ value: inertInitialState, context: initialContext(input) });

export function newOrderSaga(input: OrderInput): { snapshot: PersistedOrder; view: OrderView; wakeAt: number } {
  const snapshot = fastInitialSnapshot(input);
  return { snapshot: persist(snapshot), view: viewOf(snapshot), wakeAt: snapshot.context.startDeadline };
}

export interface Step {
  next: OrderSnapshot;
  outbox: OutMessage[];
  /** False when the event caused no transition (xstate returns the same snapshot). */
  changed: boolean;
}

export function step(snapshot: OrderSnapshot, event: OrderEvent, headers?: Record<string, string>): Step {
  const [next, actions] = fastTransition(snapshot, event);
  return { next, outbox: toOutbox(actions, headers), changed: next !== snapshot };
}
