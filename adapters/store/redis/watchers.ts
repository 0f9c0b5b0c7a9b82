/**
 * Watchers of orders' views over Redis pub/sub: one dedicated subscriber connection for
 * the whole store and one channel for every order's views (`Pviews`), SUBSCRIBEd once,
 * when the connection opens. A commit script PUBLISHes `<orderId> <view JSON>` there and
 * the message goes to that order's listeners, if any. So a long-poll costs no round trip
 * of its own: `add` resolves once the one SUBSCRIBE is confirmed (at once after the first),
 * and a caller that reads the order afterwards cannot miss a commit in between. The price
 * is that every process that watches receives every commit's view; messages of orders
 * nobody here watches are dropped after reading their orderId, without parsing the view.
 */
import type { Redis } from 'ioredis';
import type { StatusListener } from '../../../src/ports/store.ts';
import type { OrderView } from '../../../src/schemas.ts';
import { StoreUnavailableError } from '../../../src/errors.ts';
import { call } from './connection.ts';

interface Watcher {
  readonly listener: StatusListener;
}

interface Subscribed {
  readonly connection: Redis;
  /** Settles when Redis has confirmed the SUBSCRIBE. */
  readonly confirmed: Promise<unknown>;
}

/** The message a commit publishes on the views channel (commit_saga.lua builds the same). */
export const viewMessage = (orderId: string, viewJson: string): string => `${orderId} ${viewJson}`;

export class Watchers {
  private readonly byOrder = new Map<string, Set<Watcher>>();
  private subscriber: Promise<Subscribed> | undefined;
  private count = 0;
  private closed = false;

  constructor(
    private readonly open: () => Promise<Redis>,
    private readonly channel: string,
  ) {}

  get size(): number {
    return this.count;
  }

  async add(orderId: string, listener: StatusListener): Promise<() => void> {
    const { confirmed } = await this.connection();
    let watchers = this.byOrder.get(orderId);
    if (watchers === undefined) {
      watchers = new Set();
      this.byOrder.set(orderId, watchers);
    }
    const watcher: Watcher = { listener };
    watchers.add(watcher);
    this.count++;
    const remove = (): void => {
      const current = this.byOrder.get(orderId);
      if (current === undefined || !current.delete(watcher)) return;
      this.count--;
      if (current.size === 0) this.byOrder.delete(orderId);
    };
    try {
      await confirmed;
    } catch (err) {
      remove();
      throw err;
    }
    return remove;
  }

  /** Drops every listener and refuses new ones; the connection itself is closed by the store. */
  close(): void {
    this.closed = true;
    this.byOrder.clear();
    this.count = 0;
  }

  /** The subscriber connection, once it has been opened. */
  async opened(): Promise<Redis | undefined> {
    return this.subscriber?.then((s) => s.connection).catch(() => undefined);
  }

  private connection(): Promise<Subscribed> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    if (this.subscriber === undefined) {
      const opening = this.open().then((connection) => {
        connection.on('message', (_channel: string, message: string) => this.deliver(message));
        const confirmed = call(connection.subscribe(this.channel));
        // A failed SUBSCRIBE is not remembered either: the next watch subscribes again.
        confirmed.catch(() => {
          if (this.subscriber === opening) this.subscriber = undefined;
        });
        return { connection, confirmed };
      });
      // A failed open is not remembered: the next watch tries again.
      opening.catch(() => {
        if (this.subscriber === opening) this.subscriber = undefined;
      });
      this.subscriber = opening;
    }
    return this.subscriber;
  }

  /** Each listener gets its own copy; a listener that throws harms nobody else. */
  private deliver(message: string): void {
    const space = message.indexOf(' ');
    if (space < 0) return;
    const watchers = this.byOrder.get(message.slice(0, space));
    if (watchers === undefined) return;
    const json = message.slice(space + 1);
    // Iterate a copy: a listener may unsubscribe itself or others; those removed are skipped.
    for (const watcher of [...watchers]) {
      if (!watchers.has(watcher)) continue;
      try {
        watcher.listener(JSON.parse(json) as OrderView);
      } catch {
        // The commit has happened; a listener's failure is its own.
      }
    }
  }
}
