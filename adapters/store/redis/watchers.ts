/**
 * Watchers of orders' views over Redis pub/sub: one dedicated subscriber connection for
 * the whole store, opened on the first watch; one channel per order (a commit script
 * PUBLISHes the view there), SUBSCRIBEd with the order's first listener and
 * UNSUBSCRIBEd with its last. `add` resolves once the SUBSCRIBE is confirmed, so a caller
 * that reads the order afterwards cannot miss a commit in between. Redis keeps commands
 * of one connection in order, so an UNSUBSCRIBE followed by a new SUBSCRIBE of the same
 * channel ends subscribed.
 */
import type { Redis } from 'ioredis';
import type { StatusListener } from '../../../src/ports/store.ts';
import type { OrderView } from '../../../src/schemas.ts';
import { StoreUnavailableError } from '../../../src/errors.ts';
import { call } from './connection.ts';

interface Watcher {
  readonly listener: StatusListener;
}

interface Channel {
  readonly watchers: Set<Watcher>;
  /** Settles when Redis has confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<unknown>;
}

export class Watchers {
  private readonly channels = new Map<string, Channel>();
  private subscriber: Promise<Redis> | undefined;
  private count = 0;
  private closed = false;

  constructor(private readonly open: () => Promise<Redis>) {}

  get size(): number {
    return this.count;
  }

  async add(channelName: string, listener: StatusListener): Promise<() => void> {
    const sub = await this.connection();
    let channel = this.channels.get(channelName);
    if (channel === undefined) {
      channel = { watchers: new Set(), subscribed: call(sub.subscribe(channelName)) };
      this.channels.set(channelName, channel);
    }
    const watcher: Watcher = { listener };
    channel.watchers.add(watcher);
    this.count++;
    const remove = (): void => {
      const current = this.channels.get(channelName);
      if (current === undefined || !current.watchers.delete(watcher)) return;
      this.count--;
      if (current.watchers.size > 0) return;
      this.channels.delete(channelName);
      // Best effort: a failed UNSUBSCRIBE only means messages nobody listens to.
      sub.unsubscribe(channelName).catch(() => {});
    };
    try {
      await channel.subscribed;
    } catch (err) {
      remove();
      throw err;
    }
    return remove;
  }

  /** Drops every listener and refuses new ones; the connection itself is closed by the store. */
  close(): void {
    this.closed = true;
    this.channels.clear();
    this.count = 0;
  }

  /** The subscriber connection, once it has been opened. */
  async opened(): Promise<Redis | undefined> {
    return this.subscriber?.catch(() => undefined);
  }

  private connection(): Promise<Redis> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('store is closed'));
    if (this.subscriber === undefined) {
      const opening = this.open().then((sub) => {
        sub.on('message', (channel: string, message: string) => this.deliver(channel, message));
        return sub;
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
  private deliver(channelName: string, message: string): void {
    const channel = this.channels.get(channelName);
    if (channel === undefined) return;
    // Iterate a copy: a listener may unsubscribe itself or others; those removed are skipped.
    for (const watcher of [...channel.watchers]) {
      if (!channel.watchers.has(watcher)) continue;
      try {
        watcher.listener(JSON.parse(message) as OrderView);
      } catch {
        // The commit has happened; a listener's failure is its own.
      }
    }
  }
}
