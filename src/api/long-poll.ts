/**
 * GET /orders/{id}?wait=MS. Subscribe first, then read, so a change between the two
 * cannot be missed. The answer goes out when a terminal view is seen, MS pass, the
 * client goes away, or the server closes (closeAll, from a preClose hook).
 */
import type { ServerResponse } from 'node:http';
import type { Store } from '../ports/store.ts';
import { isTerminal, type OrderView } from '../schemas.ts';
import { fromStore } from './errors.ts';

export const MAX_WAIT_MS = 30_000;

/** Of two views of one order, the later one: terminal never changes, and history only grows. */
function later(a: OrderView | null, b: OrderView): OrderView {
  if (a === null) return b;
  if (isTerminal(a.status)) return a;
  if (isTerminal(b.status)) return b;
  return b.history.length >= a.history.length ? b : a;
}

export interface LongPolls {
  /** The order's view once terminal or after `ms`; null if the order is unknown. */
  wait(orderId: string, ms: number, response: ServerResponse): Promise<OrderView | null>;
  /** Answers every open long-poll now with what it has; later ones answer at once. */
  closeAll(): void;
  readonly open: number;
}

export function createLongPolls(store: Store): LongPolls {
  const open = new Set<() => void>();
  let closing = false;

  async function wait(orderId: string, ms: number, response: ServerResponse): Promise<OrderView | null> {
    let best: OrderView | null = null;
    const seen = (): OrderView | null => best;
    let wake: () => void = () => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const keep = (view: OrderView): void => {
      best = later(best, view);
      if (isTerminal(best.status)) wake();
    };

    const unwatch = await fromStore(() => store.watch(orderId, keep));
    let timer: NodeJS.Timeout | undefined;
    open.add(wake);
    response.once('close', wake);
    try {
      const current = await fromStore(() => store.getOrder(orderId));
      if (current) keep(current);
      const now = seen();
      if (now === null) return null;
      if (ms === 0 || isTerminal(now.status) || closing || response.destroyed) return now;

      timer = setTimeout(wake, ms);
      await woken;
      const last = seen() ?? now;
      if (isTerminal(last.status)) return last;
      // A watch may lag (pub/sub); one more read gives the freshest non-terminal answer.
      const fresh = await store.getOrder(orderId).catch(() => null);
      return fresh ? later(last, fresh) : last;
    } finally {
      clearTimeout(timer);
      open.delete(wake);
      response.off('close', wake);
      unwatch();
    }
  }

  return {
    wait,
    closeAll() {
      closing = true;
      for (const wake of open) wake();
    },
    get open() {
      return open.size;
    },
  };
}
