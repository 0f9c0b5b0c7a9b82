/**
 * Orders the api sheds (503 OVERLOADED): counted as `shed` and left alone, unless the run
 * says `--retry-shed`; then the same request (the same Idempotency-Key) is placed again
 * after Retry-After, as a polite client would, until it is accepted or `giveUpMs` passed.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { isShed, type Driver, type OrderRequest, type Placed, type Shed } from './driver.ts';

export interface ShedPolicy {
  retryShed: boolean;
  giveUpMs: number;
}

export async function placeOrShed(driver: Driver, request: OrderRequest, policy: ShedPolicy): Promise<Placed | Shed> {
  const start = performance.now();
  for (;;) {
    const placed = await driver.place(request);
    if (!isShed(placed) || !policy.retryShed) return placed;
    if (performance.now() + placed.retryAfterMs - start > policy.giveUpMs) return placed;
    await delay(placed.retryAfterMs);
  }
}
