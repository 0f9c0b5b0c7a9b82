/**
 * Tests wait on events, never on the clock: a Recorder collects what handlers saw and
 * `until()` resolves the moment a predicate over it holds. The only timer is a deadline
 * that fails the test with what it waited for and what it saw by then.
 */
export const DEFAULT_WAIT_MS = Number(process.env.TEST_WAIT_MS ?? 5_000);

interface Waiter<T> {
  holds: (items: readonly T[]) => boolean;
  resolve: (items: readonly T[]) => void;
}

export class Recorder<T> {
  readonly items: T[] = [];
  private waiters: Waiter<T>[] = [];

  push(item: T): void {
    this.items.push(item);
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.holds(this.items)) return true;
      w.resolve(this.items);
      return false;
    });
  }

  /** Resolves once `holds(items)` is true; rejects after `timeoutMs` naming `what`. */
  until(holds: (items: readonly T[]) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<readonly T[]> {
    if (holds(this.items)) return Promise.resolve(this.items);
    const waiting = new Promise<readonly T[]>((resolve) => this.waiters.push({ holds, resolve }));
    return withTimeout(waiting, () => `${what} (recorded ${this.items.length}: ${preview(this.items)})`, timeoutMs);
  }

  /** Resolves once `n` items are recorded. */
  count(n: number, what: string, timeoutMs?: number): Promise<readonly T[]> {
    return this.until((items) => items.length >= n, `${n} ${what}`, timeoutMs);
  }
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Fails with "timed out after N ms waiting for <what>" unless `promise` settles first. */
export async function withTimeout<T>(
  promise: Promise<T>,
  what: string | (() => string),
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const label = typeof what === 'string' ? what : what();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Lets already-queued callbacks and I/O run once (one event-loop turn, not a timed wait). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function preview(items: readonly unknown[]): string {
  const shown = items.slice(-5).map((i) => JSON.stringify(i));
  return (items.length > 5 ? '..., ' : '') + shown.join(', ');
}
