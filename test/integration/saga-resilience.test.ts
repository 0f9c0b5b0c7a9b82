/**
 * Durable sagas across processes on Kafka + Redis: an order worker killed with SIGKILL
 * mid-flow and replaced, a second order worker joining mid-flow (a rebalance), and a
 * worker dying between its snapshot write and its sends. Every order must end, every
 * invariant must hold exactly.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, afterEach, before, describe, it } from 'node:test';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config.ts';
import { seededRng } from '../../src/random.ts';
import { acceptOrder } from '../../src/saga/accept.ts';
import { startSystem } from '../../src/system.ts';
import { Client, startProcess, type RunningProcess } from '../blackbox/client.ts';
import { placeMixedOrders } from '../blackbox/workload.ts';
import { realServices, type RealServices } from '../helpers/real-services.ts';

const ADMIN_TOKEN = 'it-secret-0123456789abcdef0123456789';

/** Orders of `ids` not terminal yet: proof a fault hit work in flight, not an idle system. */
async function notTerminal(c: Client, ids: readonly string[]): Promise<number> {
  const statuses = await Promise.all(
    ids.map(async (id) => (await c.request('GET', `/orders/${id}`)).body?.status as string),
  );
  return statuses.filter((s) => !['COMPLETED', 'REJECTED', 'CANCELLED'].includes(s)).length;
}
/**
 * Orders of `ids` in flight at some moment in [from, to] (epoch ms): placed by `to`, and not
 * ended before `from`. A join lasts seconds; the count at one instant can be none once
 * the orders before it are quick.
 */
async function inFlightDuring(c: Client, ids: readonly string[], from: number, to: number): Promise<number> {
  const views = await Promise.all(ids.map(async (id) => (await c.request('GET', `/orders/${id}`)).body));
  return views.filter((v: { status: string; history: { status: string; at: string }[] }) => {
    const placed = Date.parse(v.history[0]!.at);
    const last = v.history[v.history.length - 1]!;
    const ended = ['COMPLETED', 'REJECTED', 'CANCELLED'].includes(v.status) ? Date.parse(last.at) : Infinity;
    return placed <= to && ended >= from;
  }).length;
}
const found = await realServices('res');

describe('durable sagas on Kafka + Redis', { skip: found.skip, timeout: 300_000 }, () => {
  let services: RealServices;
  const procs: RunningProcess[] = [];
  const start = async (env: Record<string, string>, role: string) => {
    const p = await startProcess({ ...services.env, ADMIN_TOKEN, STEP_TIMEOUT_MS: '8000', ...env }, role);
    procs.push(p);
    return p;
  };
  /** Each test its own topics, groups and keys, so no test's processes join another's groups. */
  const isolated = (label: string) => ({
    KEY_PREFIX: `${services.env.KEY_PREFIX}${label}:`,
    TOPIC_PREFIX: `${services.env.TOPIC_PREFIX}${label}.`,
    KAFKA_GROUP_PREFIX: `${services.env.KAFKA_GROUP_PREFIX}${label}.`,
  });
  const stopAll = async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
  };

  before(() => {
    services = found.services!;
  });
  afterEach(stopAll);
  after(async () => {
    await services.cleanup();
  });

  it('finishes every order when the order worker is killed mid-flow and another takes over', async () => {
    const env = isolated('kill');
    const [, , first] = await Promise.all([start(env, 'stock'), start(env, 'payment'), start(env, 'order')]);
    const api = await start(env, 'api');
    const c = new Client(api.url, ADMIN_TOKEN);
    const work = await placeMixedOrders(c, 'kill', 150, 11);
    await c.awaitTerminal(work.orderIds[0]!); // the worker is mid-flow: some done, most not
    first!.child.kill('SIGKILL');
    await once(first!.child, 'exit');
    // With the only order worker dead nothing moves past the saga: these were in flight when it died.
    assert.ok((await notTerminal(c, work.orderIds)) > 0, 'orders were in flight when the worker was killed');
    await start(env, 'order');
    assert.deepEqual(await work.verify(), []);
  });

  it('finishes every order when a second order worker joins mid-flow (rebalance)', async () => {
    const env = isolated('join');
    await Promise.all([start(env, 'stock'), start(env, 'payment'), start(env, 'order')]);
    const api = await start(env, 'api');
    const c = new Client(api.url, ADMIN_TOKEN);
    const work = await placeMixedOrders(c, 'join', 200, 12);
    await c.awaitTerminal(work.orderIds[0]!);
    // More orders arrive while the second worker joins, as they would during a scale-out.
    const from = Date.now();
    const [joinedAt, more] = await Promise.all([
      start(env, 'order').then(() => Date.now()),
      placeMixedOrders(c, 'join2', 100, 13),
    ]);
    const inFlight = await inFlightDuring(c, [...work.orderIds, ...more.orderIds], from, joinedAt);
    assert.ok(inFlight > 0, 'orders were in flight while the second worker joined');
    assert.deepEqual(await work.verify(), []);
    assert.deepEqual(await more.verify(), []);
  });

  it('re-sends the outbox when a worker dies between its snapshot write and its sends', async () => {
    const config = {
      ...loadConfig({ ...services.env, ...isolated('crash') }),
      seedDemo: false,
    };
    let crashes = 0;
    const rng = seededRng(5);
    const system = await startSystem({
      config,
      roles: ['stock', 'order', 'payment'],
      // die right after about half the snapshot writes, eight times in all
      crashAfterSnapshot: () => (crashes < 8 && rng.chance(0.5) ? (crashes++, true) : false),
    });
    try {
      await system.store.seed([{ productId: 'cp', stock: 100, price: 10 }], [{ userId: 'cu', balance: 1_000 }]);
      const deps = {
        ...system,
        clock: systemClock,
        stepTimeoutMs: 30_000,
        compensationRetry: { initialMs: 500, maxMs: 2_000, factor: 2 },
      };
      const ids = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const orderId = `crash-${i}-${Date.now()}`;
          const outcome = await acceptOrder(
            { ...deps, newOrderId: () => orderId },
            { userId: 'cu', items: [{ productId: 'cp', quantity: 1 }] },
          );
          assert.equal(outcome.kind, 'accepted');
          return orderId;
        }),
      );
      const views = await Promise.all(
        ids.map(
          (id) =>
            new Promise<string>((resolve) => {
              let stop: (() => void) | undefined;
              const check = (status: string) => {
                if (status === 'COMPLETED' || status === 'CANCELLED' || status === 'REJECTED') {
                  stop?.();
                  resolve(status);
                }
              };
              void system.store
                .watch(id, (v) => check(v.status))
                .then(async (unwatch) => {
                  stop = unwatch;
                  const v = await system.store.getOrder(id);
                  if (v) check(v.status);
                });
            }),
        ),
      );
      assert.ok(crashes > 0, 'crashes were injected');
      assert.deepEqual(
        views,
        ids.map(() => 'COMPLETED'),
        'no order needed a timeout: every outbox was re-sent',
      );
      assert.equal((await system.store.getProducts(['cp']))[0]?.stock, 80);
      assert.equal((await system.store.getUser('cu'))?.balance, 800);
    } finally {
      await system.close();
    }
  });
});
