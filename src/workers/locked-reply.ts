/**
 * A command's effect under its locks, then its reply. The reply leaves as soon as the
 * effect's outcome is known, while the locks' release is on its way: withLocks writes the
 * release to the lock servers the moment the effect settles, so waiting for their answer
 * before publishing only put one more round trip on every command's path. The handler
 * still returns only once both are done, so a command counts as handled with its reply
 * acknowledged and its locks released, as before.
 */
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import type { OutMessage } from '../topics.ts';

export async function effectThenReply<T>(
  ports: { store: Store; broker: Broker },
  locks: readonly string[],
  effect: () => Promise<T>,
  reply: (outcome: T) => OutMessage[],
): Promise<T> {
  let sent: Promise<void> | null = null;
  const outcome = await ports.store.withLocks(locks, async () => {
    const result = await effect();
    sent = ports.broker.publish(reply(result));
    // Awaited below, once the locks are released; until then a failure must not count as unhandled.
    sent.catch(() => undefined);
    return result;
  });
  await (sent as Promise<void> | null);
  return outcome;
}
