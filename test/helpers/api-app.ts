/** Builds the api on fakes (or on the embedded adapters) with a manual clock; one per test, closed by the caller. */
import type { FastifyInstance } from 'fastify';
import { createMemoryBroker, type MemoryBroker } from '../../adapters/broker/memory.ts';
import { createMemoryStore, type MemoryStore } from '../../adapters/store/memory.ts';
import { buildApi, type ApiDeps } from '../../src/api/app.ts';
import { ManualClock } from '../../src/clock.ts';
import { silentLogger } from '../../src/log.ts';
import { createMetrics, type Metrics } from '../../src/metrics.ts';
import { createFakeBroker, createFakeStore, type FakeBroker, type FakeStore } from './api-fakes.ts';

export interface ApiHarness {
  app: FastifyInstance;
  store: FakeStore;
  broker: FakeBroker;
  clock: ManualClock;
  metrics: Metrics;
}

export const ADMIN_TOKEN = 's3cret-token';

export async function apiHarness(overrides: Partial<ApiDeps> = {}): Promise<ApiHarness> {
  const store = createFakeStore();
  const broker = createFakeBroker();
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 250));
  const metrics = createMetrics();
  let n = 0;
  const app = await buildApi({
    store,
    broker,
    clock,
    metrics,
    logger: silentLogger,
    rateLimitPerSec: 0,
    adminToken: ADMIN_TOKEN,
    stepTimeoutMs: 30_000,
    compensationRetry: { initialMs: 1_000, maxMs: 30_000, factor: 2 },
    newOrderId: () => `o-${++n}`,
    ...overrides,
  });
  return { app, store, broker, clock, metrics };
}

export interface MemoryApi {
  app: FastifyInstance;
  store: MemoryStore;
  broker: MemoryBroker;
  /** Closes the app, then the broker and the store. */
  close(): Promise<void>;
}

/** The api on the embedded broker and store (no workers), as `npm start` wires them. */
export async function memoryApi(): Promise<MemoryApi> {
  const clock = new ManualClock();
  const store = createMemoryStore({ clock, orderRetentionMs: 60_000 });
  const broker = createMemoryBroker({ clock });
  const app = await buildApi({
    store,
    broker,
    clock,
    metrics: createMetrics(),
    logger: silentLogger,
    rateLimitPerSec: 0,
    adminToken: undefined,
    stepTimeoutMs: 30_000,
    compensationRetry: { initialMs: 1_000, maxMs: 30_000, factor: 2 },
  });
  return {
    app,
    store,
    broker,
    async close() {
      await app.close();
      await broker.close();
      await store.close();
    },
  };
}

export const validOrder = { userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] };

export function postOrder(app: FastifyInstance, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/orders', payload: body as object, headers });
}
