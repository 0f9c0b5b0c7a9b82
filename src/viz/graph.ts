/**
 * The order machine as a graph, read from the machine definition itself (rule
 * `pure-machine`, docs/architecture.md: the diagram is drawn from the definition, never by
 * hand). Mermaid, DOT and the live page are all rendered from this one walk.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { orderMachine } from '../../machines/order.machine.ts';

export interface GraphTransition {
  from: string;
  to: string;
  /** The event type, or `always` for an eventless transition. */
  event: string;
  guard?: string;
}

export interface MachineGraph {
  states: string[];
  transitions: GraphTransition[];
  initial: string;
  finals: string[];
}

export const ALWAYS = 'always';

/** A guard's name: named guards are strings or `{ type }`; inline ones keep their function name. */
function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'inline';
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  return 'inline';
}

interface TransitionLike {
  target?: readonly AnyStateNode[] | undefined;
  guard?: unknown;
}

function edges(node: AnyStateNode, event: string, list: readonly TransitionLike[]): GraphTransition[] {
  return list.flatMap((t) => {
    // A transition without a target stays in its state (actions only): a self-loop.
    const targets = t.target && t.target.length > 0 ? t.target.map((n) => n.key) : [node.key];
    const guard = guardName(t.guard);
    return targets.map((to) => ({ from: node.key, to, event, ...(guard ? { guard } : {}) }));
  });
}

/** Walks the top-level states of a flat machine (the order machine has no nesting). */
export function machineGraph(machine: AnyStateMachine = orderMachine): MachineGraph {
  const nodes = Object.values(machine.root.states) as AnyStateNode[];
  const transitions = nodes.flatMap((node) => [
    ...[...node.transitions.entries()].flatMap(([event, list]) => edges(node, event, list)),
    ...edges(node, ALWAYS, node.always ?? []),
  ]);
  const initial = machine.root.initial?.target[0]?.key;
  if (!initial) throw new Error(`machine ${machine.id} has no initial state`);
  return {
    states: nodes.map((n) => n.key),
    transitions,
    initial,
    finals: nodes.filter((n) => n.type === 'final').map((n) => n.key),
  };
}

/** The label of one arrow: `EVENT [guard]`. */
export const labelOf = (t: GraphTransition): string => (t.guard ? `${t.event} [${t.guard}]` : t.event);

/** The events of the graph, in the order they first appear. */
export const eventsOf = (g: MachineGraph): string[] => [...new Set(g.transitions.map((t) => t.event))];
