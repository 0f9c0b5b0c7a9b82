/**
 * One order's events are handled one at a time in this process: each orderId has a
 * promise chain, and the entry is dropped when its chain drains (no per-order memory
 * survives its last event).
 */
export interface Mailbox {
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  readonly size: number;
}

export function createMailbox(): Mailbox {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const prev = tails.get(key);
      const result = prev ? prev.then(task, task) : task();
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    get size() {
      return tails.size;
    },
  };
}
