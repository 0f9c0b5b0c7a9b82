/**
 * Per-client limit for POST /orders: a fixed one-second window on the injected clock,
 * so tests move time instead of waiting. A client is its address, an IPv6 one its /64
 * (client-key.ts), so a host cannot dodge the limit by picking a new address per request. The map holds only the current window's
 * addresses; it is emptied when the window turns, so idle addresses are forgotten.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../clock.ts';
import { clientKey } from './client-key.ts';
import { ApiError } from './errors.ts';

const WINDOW_MS = 1000;

export interface RateLimiter {
  /** Counts one request for `address`; returns the ms until its window turns when over the limit. */
  take(address: string): number | null;
  readonly trackedAddresses: number;
}

export function createRateLimiter(clock: Clock, perSec: number): RateLimiter {
  let window = Number.NaN;
  const counts = new Map<string, number>();
  return {
    take(address) {
      const now = clock.now();
      const current = Math.floor(now / WINDOW_MS);
      if (current !== window) {
        window = current;
        counts.clear();
      }
      const used = (counts.get(address) ?? 0) + 1;
      counts.set(address, used);
      return used > perSec ? (current + 1) * WINDOW_MS - now : null;
    },
    get trackedAddresses() {
      return counts.size;
    },
  };
}

/** An onRequest hook answering 429 with Retry-After (whole seconds, at least 1); a no-op when perSec is 0. */
export function rateLimitHook(clock: Clock, perSec: number) {
  const limiter = perSec > 0 ? createRateLimiter(clock, perSec) : null;
  return async function rateLimit(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const waitMs = limiter?.take(clientKey(request.ip)) ?? null;
    if (waitMs !== null) {
      const retryAfter = String(Math.max(1, Math.ceil(waitMs / 1000)));
      throw new ApiError(429, { error: 'rate limit exceeded' }, { headers: { 'retry-after': retryAfter } });
    }
  };
}
