/**
 * MAX_WAITS_PER_CLIENT: the requests one client may hold open at a time, long-polls
 * (GET /orders/{id}?wait=MS) and /viz/events streams together. Each holds a socket, a
 * store watch or a place in the SSE ticker; without a cap one client could hold them all.
 * A client is keyed as for the rate limit (client-key.ts: an IPv6 one by its /64).
 */
import { clientKey } from './client-key.ts';
import { ApiError } from './errors.ts';

export const DEFAULT_MAX_WAITS_PER_CLIENT = 16;

export interface ClientWaits {
  /** Takes one of the client's slots and returns its release (safe to call twice); a 429 when it has none left. */
  take(address: string): () => void;
  /** Slots held now, over all clients. */
  readonly open: number;
}

/** `max` 0 means no cap. */
export function createClientWaits(max: number): ClientWaits {
  const held = new Map<string, number>();
  let open = 0;
  return {
    take(address) {
      const key = clientKey(address);
      const used = held.get(key) ?? 0;
      if (max > 0 && used >= max) {
        throw new ApiError(
          429,
          {
            error: `too many open waits from this client: at most ${max} long-polls and /viz/events streams at a time`,
          },
          { headers: { 'retry-after': '1' } },
        );
      }
      held.set(key, used + 1);
      open++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        open--;
        const left = (held.get(key) ?? 1) - 1;
        if (left > 0) held.set(key, left);
        else held.delete(key);
      };
    },
    get open() {
      return open;
    },
  };
}
