/**
 * In-process stand-in for Redlock: one FIFO mutex per resource name. Names are deduped
 * and taken in sorted order, so two overlapping sets can never each hold what the other
 * waits for. A free lock keeps no entry, so memory follows the locks in use.
 */

/** A FIFO queue with O(1) take: a hot product can gather thousands of waiters. */
class Waiters {
  private items: (() => void)[] = [];
  private head = 0;

  push(wake: () => void): void {
    this.items.push(wake);
  }

  take(): (() => void) | undefined {
    const wake = this.items[this.head];
    if (wake === undefined) return undefined;
    this.items[this.head++] = undefined as never;
    // Drop the consumed prefix once it dominates, keeping take amortised O(1).
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return wake;
  }
}

export class LockTable {
  /** Present means held; the value holds whoever waits next. */
  private readonly held = new Map<string, Waiters>();

  get size(): number {
    return this.held.size;
  }

  async run<T>(resources: readonly string[], fn: () => Promise<T>): Promise<T> {
    const names = [...new Set(resources)].sort();
    const taken: string[] = [];
    try {
      for (const name of names) {
        await this.acquire(name);
        taken.push(name);
      }
      return await fn();
    } finally {
      for (const name of taken.reverse()) this.release(name);
    }
  }

  private acquire(name: string): Promise<void> | void {
    const waiters = this.held.get(name);
    if (waiters === undefined) {
      this.held.set(name, new Waiters());
      return;
    }
    return new Promise<void>((resolve) => waiters.push(resolve));
  }

  private release(name: string): void {
    const waiters = this.held.get(name);
    // Hand the lock straight to the next waiter, so nobody can barge in between.
    const next = waiters?.take();
    if (next === undefined) this.held.delete(name);
    else next();
  }
}
