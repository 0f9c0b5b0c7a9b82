/**
 * The saga host's algorithm for one event, without its telemetry: load the snapshot (or
 * start from this host's own last write of it, ./committed.ts), build the event, step the
 * machine, and write the new snapshot with its outbox by compare-and-set (rules
 * `store-is-truth`, `outbox-in-snapshot`; docs/architecture.md). It sends nothing:
 * the host sends what the answer says, and its observer turns the answer into metrics and logs.
 */
import type { OrderEvent } from '../../machines/order.machine.ts';
import type { Clock } from '../clock.ts';
import { UnknownOrderError } from '../errors.ts';
import type { Store } from '../ports/store.ts';
import type { OrderView } from '../schemas.ts';
import type { OutMessage } from '../topics.ts';
import type { Committed, CommittedCache } from './committed.ts';
import type { EventFor } from './inbox.ts';
import { isDone, persist, restore, wakeAtOf, type OrderSnapshot } from './persisted.ts';
import { step, type Step } from './stepping.ts';
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
  /** The host's own last writes (./committed.ts); absent: every event loads the row. */
  committed?: CommittedCache;
}

/**
 * `headersFor` gives the outbox's headers from the loaded snapshot. An order this host
 * wrote last starts from that write; if the event changes it, the write is a
 * compare-and-set on that version as usual, and if it changes nothing, or the version
 * moved, the event is applied again from the stored row, so only a write ever rests on
 * the cache.
 */
export async function applyEvent(
  deps: ApplyDeps,
  orderId: string,
  eventFor: EventFor,
  headersFor: (snapshot: OrderSnapshot) => Record<string, string> | undefined,
): Promise<Applied> {
  const { store } = deps;
  let lost = 0;
  const cached = deps.committed?.take(orderId);
  if (cached) {
    const now = deps.clock.now();
    const event = await eventFor(cached.snapshot, now);
    const result = event ? step(cached.snapshot, event, headersFor(cached.snapshot)) : null;
    if (event && result?.changed) {
      const applied = await commit(deps, orderId, cached, event, result, now, 0);
      if (applied) return applied;
      lost = 1;
    }
  }
  for (let attempt = 1; attempt <= deps.casAttempts; attempt++) {
    const conflicts = lost + attempt - 1;
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
    const applied = await commit(deps, orderId, { version: row.version, snapshot }, event, result, now, conflicts);
    if (applied) return applied;
  }
  return { kind: 'contended', orderId, conflicts: lost + deps.casAttempts };
}

/** The compare-and-set of one step from `from`; null when the version had moved. */
async function commit(
  deps: ApplyDeps,
  orderId: string,
  from: Committed,
  event: OrderEvent,
  { next, outbox }: Step,
  now: number,
  conflicts: number,
): Promise<Applied | null> {
  const terminal = isDone(next);
  const view = viewOf(next);
  const write = { snapshot: persist(next), outbox, view, wakeAt: wakeAtOf(next), terminal };
  if (!(await deps.store.commitSaga(orderId, from.version, write))) return null;
  const version = from.version + 1;
  if (!terminal) deps.committed?.put(orderId, { version, snapshot: next });
  return {
    kind: 'committed',
    orderId,
    before: from.snapshot,
    after: next,
    event,
    outbox,
    view,
    terminal,
    now,
    version,
    conflicts,
  };
}
