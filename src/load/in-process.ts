/**
 * The engine in this process: stock, order and payment roles started by startSystem on
 * the adapters the environment names (BROKER/STORE, memory by default). Orders go through
 * acceptOrder, the path POST /orders takes, without HTTP, admission control included (an
 * order it refuses is shed); their ends come from store.watch().
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { systemClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { Backoff } from '../retry.ts';
import { acceptOrder, type AcceptDeps } from '../saga/accept.ts';
import { admissionPolicy } from '../saga/admission.ts';
import { createAdmissionGate } from '../saga/admission-gate.ts';
import { isTerminal, type OrderView } from '../schemas.ts';
import { startSystem } from '../system.ts';
import {
  mapLimit,
  type Driver,
  type OrderRequest,
  type Placed,
  type Shed,
  type Terminal,
  type TerminalStatus,
} from './driver.ts';

type Env = Record<string, string | undefined>;

const terminalOf = (view: OrderView): Terminal => ({
  status: view.status as TerminalStatus,
  ...(view.totalPrice === undefined ? {} : { totalPrice: view.totalPrice }),
  ...(view.reason === undefined ? {} : { reasonCode: view.reason.code }),
  at: performance.now(),
});

export async function createInProcessDriver(env: Env = process.env): Promise<Driver> {
  // The run seeds its own catalogue; demo data would only be noise.
  const config = { ...loadConfig(env), seedDemo: false };
  // Logs go to stderr (stdout carries the report), at warn unless LOG_LEVEL says otherwise.
  const logger = pino({ level: env.LOG_LEVEL?.trim() || 'warn', name: 'order-saga' }, pino.destination(2));
  const system = await startSystem({ config, roles: ['stock', 'order', 'payment'], logger });
  const { store } = system;
  const base: Omit<AcceptDeps, 'newOrderId'> = {
    store,
    broker: system.broker,
    clock: systemClock,
    stepTimeoutMs: config.stepTimeoutMs,
    compensationRetry: Backoff.compensation,
    admission: createAdmissionGate({
      store,
      clock: systemClock,
      policy: admissionPolicy(config.maxInFlight, config.stepTimeoutMs),
      metrics: system.metrics,
      logger,
    }),
  };

  /** Orders followed and not ended yet, with what ends their following. */
  const pending = new Map<string, (t: Terminal | null) => void>();

  async function place(order: OrderRequest): Promise<Placed | Shed> {
    const orderId = randomUUID();
    let settle!: (t: Terminal | null) => void;
    const terminal = new Promise<Terminal | null>((resolve) => (settle = resolve));
    let unwatch: (() => void) | null = null;
    let done = false;
    const finish = (t: Terminal | null): void => {
      if (done) return;
      done = true;
      pending.delete(orderId);
      unwatch?.();
      settle(t);
    };
    // Watch first, then accept: no change can fall between the two.
    unwatch = await store.watch(orderId, (view) => {
      if (isTerminal(view.status)) finish(terminalOf(view));
    });
    pending.set(orderId, finish);
    const outcome = await acceptOrder(
      // Not `{ ...base, newOrderId }`: a spread followed by a new key is slow in V8, per order.
      Object.assign({ newOrderId: () => orderId }, base),
      { userId: order.userId, items: order.items },
    );
    if (outcome.kind === 'overloaded') {
      finish(null);
      return { shed: true, retryAfterMs: outcome.retryAfterSec * 1000 };
    }
    // 'unpublished' was recorded: it proceeds or ends CANCELLED (TIMEOUT); keep following it.
    if (outcome.kind !== 'accepted' && outcome.kind !== 'unpublished') {
      finish(null);
      const cause = 'cause' in outcome ? `: ${String(outcome.cause)}` : '';
      throw new Error(`order not accepted (${outcome.kind}${cause})`);
    }
    return { orderId, terminal };
  }

  return {
    mode: 'in-process',
    describe: async () => ({ broker: config.broker, store: config.store }),
    async seed(catalogue) {
      await mapLimit(catalogue.products, 64, (p) => store.putProduct(p));
      await mapLimit(catalogue.users, 64, (u) => store.putUser(u));
    },
    place,
    abandon() {
      // A watch may miss a change (pub/sub on a real store): one last read before giving up.
      for (const [orderId, finish] of [...pending]) {
        store.getOrder(orderId).then(
          (view) => finish(view && isTerminal(view.status) ? terminalOf(view) : null),
          () => finish(null),
        );
      }
    },
    async stocks(productIds) {
      const products = await store.getProducts(productIds);
      return products.map((p) => p?.stock ?? null);
    },
    async balances(userIds) {
      return mapLimit(userIds, 64, async (id) => (await store.getUser(id))?.balance ?? null);
    },
    close: () => system.close(),
  };
}
