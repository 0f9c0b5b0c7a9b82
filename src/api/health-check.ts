/**
 * Whether the store and the broker answer, for /healthz. A probe per request would let a
 * scraper (or a load balancer polling every instance) put a round trip on both services
 * per call; instead one probe of each runs at a time and its answer is kept for `ttlMs`.
 */
import type { Clock } from '../clock.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import type { Service } from '../readiness.ts';

/** A ping that hangs counts as unreachable. */
export const PING_TIMEOUT_MS = 2_000;
export const HEALTH_TTL_MS = 1_000;

export interface Health {
  /** Services that did not answer; empty when both did. */
  unreachable: Service[];
}

export interface HealthCheck {
  check(): Promise<Health>;
}

async function answers(ping: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([ping().then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export function cachedHealthCheck(deps: {
  store: Store;
  broker: Broker;
  clock: Clock;
  ttlMs?: number;
  pingTimeoutMs?: number;
}): HealthCheck {
  const ttlMs = deps.ttlMs ?? HEALTH_TTL_MS;
  const pingTimeoutMs = deps.pingTimeoutMs ?? PING_TIMEOUT_MS;
  let last: { at: number; health: Health } | null = null;
  let probing: Promise<Health> | null = null;

  const probe = async (): Promise<Health> => {
    const [store, broker] = await Promise.all([
      answers(() => deps.store.ping(), pingTimeoutMs),
      answers(() => deps.broker.ping(), pingTimeoutMs),
    ]);
    const unreachable: Service[] = [];
    if (!broker) unreachable.push('broker');
    if (!store) unreachable.push('store');
    return { unreachable };
  };

  return {
    check() {
      if (last && deps.clock.now() - last.at < ttlMs) return Promise.resolve(last.health);
      probing ??= probe()
        .then((health) => {
          last = { at: deps.clock.now(), health };
          return health;
        })
        .finally(() => {
          probing = null;
        });
      return probing;
    },
  };
}
