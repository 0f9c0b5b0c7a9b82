/**
 * The saga's outgoing edge: which topic each publish action of the machine sends to. The
 * table is checked by the compiler: every publish action of the machine has an entry, no
 * entry names an action the machine lacks, and each action's params are exactly the body
 * of its topic. An action with no entry throws instead of being dropped.
 */
import type { StateMachine } from 'xstate';
import type { orderMachine } from '../../machines/order.machine.ts';
import { message, Topics, type Body, type OutMessage, type TopicName } from '../topics.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- positional type parameters of StateMachine */
type MachineAction =
  typeof orderMachine extends StateMachine<
    any,
    any,
    any,
    any,
    infer A,
    any,
    any,
    any,
    any,
    any,
    any,
    any,
    any,
    any,
    any
  >
    ? A
    : never;
/* eslint-enable @typescript-eslint/no-explicit-any */
type PublishAction = Extract<MachineAction, { type: `publish${string}` }>;
export type PublishActionName = PublishAction['type'];
type ParamsOf<A extends PublishActionName> = Extract<PublishAction, { type: A }>['params'];

/** The topics whose body the action's params are, both ways. */
type TopicsFor<A extends PublishActionName> = {
  [T in TopicName]: [ParamsOf<A>] extends [Body<T>] ? ([Body<T>] extends [ParamsOf<A>] ? T : never) : never;
}[TopicName];

export const OutboxTopics: { readonly [A in PublishActionName]: TopicsFor<A> } = {
  publishPaymentRequest: Topics.paymentRequest,
  publishStockRollback: Topics.stockRollback,
  publishPaymentRefund: Topics.paymentRefund,
  publishOrderCompleted: Topics.orderCompleted,
  publishOrderCancel: Topics.orderCancel,
};

/** An action as a transition returns it. */
export interface ActionObject {
  type: string;
  params?: unknown;
}

/** The messages a transition's actions send, in their order. */
export function toOutbox(actions: readonly ActionObject[], headers?: Record<string, string>): OutMessage[] {
  return actions.map((action) => {
    const topic = (OutboxTopics as Record<string, TopicName | undefined>)[action.type];
    if (!topic) throw new Error(`the machine's action ${action.type} has no topic in the outbox table`);
    return message(topic, action.params as Body<TopicName> & { orderId: string }, headers);
  });
}
