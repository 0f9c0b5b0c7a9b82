/**
 * The saga host's algorithm for one event, without its telemetry: load the snapshot, build
 * the event, step the machine, and write the new snapshot with its outbox by compare-and-set
 * (rules `store-is-truth`, `outbox-in-snapshot`; docs/architecture.md). It sends nothing:
 * the host sends what the answer says, and its observer turns the answer into metrics and logs.
 */
import type { OrderEvent } from '../../machines/order.machine.ts';
import type { Clock } from '../clock.ts';
import { UnknownOrderError } from '../errors.ts';
import type { Store } from '../ports/store.ts';
import type { OrderView } from '../schemas.ts';
import type { OutMessage } from '../topics.ts';
import type { EventFor } from './inbox.ts';
import { isDone, persist, restore, wakeAtOf, type OrderSnapshot } from './persisted.ts';
import { step } from './stepping.ts';
import { viewOf } from './view.ts';

/** What one event did to one order. `conflicts`: compare-and-sets lost on the way. */
export type Applied =
  /** Finished, and its last outbox went out: nothing can change it, nothing to re-send. */
  | { kind: 'gone'; orderId: string; conflicts: number }
  /** No transition (or no event); `resend` is the stored outbox still unsent, at `version`. */
  | {
      kind: 'unchanged';
      orderId: string;
      snapshot: OrderSnapshot;
      event: OrderEvent | null;
      now: number;
      resend: OutMessage[];
      version: number;
      conflicts: number;
    }
  /** Written at `version`; `outbox` is still to be sent. */
  | {
      kind: 'committed';
      orderId: string;
      before: OrderSnapshot;
      after: OrderSnapshot;
      event: OrderEvent;
      outbox: OutMessage[];
      view: OrderView;
      terminal: boolean;
      now: number;
      version: number;
      conflicts: number;
    }
  /** Lost every compare-and-set allowed. */
  | { kind: 'contended'; orderId: string; conflicts: number };

export interface ApplyDeps {
  store: Store;
  clock: Clock;
  casAttempts: number;
}

/** `headersFor` gives the outbox's headers from the loaded snapshot. */
export async function applyEvent(
  deps: ApplyDeps,
  orderId: string,
  eventFor: EventFor,
  headersFor: (snapshot: OrderSnapshot) => Record<string, string> | undefined,
): Promise<Applied> {
  const { store } = deps;
  for (let attempt = 1; attempt <= deps.casAttempts; attempt++) {
    const conflicts = attempt - 1;
    const row = await store.loadSaga(orderId);
    if (!row) throw new UnknownOrderError(orderId);
    if (row.snapshot === null) return { kind: 'gone', orderId, conflicts };
    const snapshot = restore(row.snapshot);
    const now = deps.clock.now();
    const event = await eventFor(snapshot, now);
    const result = event ? step(snapshot, event, headersFor(snapshot)) : null;
    if (!event || !result?.changed) {
      const resend = !row.outboxSent ? row.outbox : [];
      return { kind: 'unchanged', orderId, snapshot, event, now, resend, version: row.version, conflicts };
    }
    const { next, outbox } = result;
    const terminal = isDone(next);
    const view = viewOf(next);
    const write = { snapshot: persist(next), outbox, view, wakeAt: wakeAtOf(next), terminal };
    if (!(await store.commitSaga(orderId, row.version, write))) continue;
    return {
      kind: 'committed',
      orderId,
      before: snapshot,
      after: next,
      event,
      outbox,
      view,
      terminal,
      now,
      version: row.version + 1,
      conflicts,
    };
  }
  return { kind: 'contended', orderId, conflicts: deps.casAttempts };
}
