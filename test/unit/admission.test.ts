/**
 * Admission control: the pure controller fed counts and time by hand, and the gate that
 * reads the store on a ManualClock (no waiting anywhere).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ManualClock } from '../../src/clock.ts';
import type { Logger } from '../../src/log.ts';
import { createMetrics } from '../../src/metrics.ts';
import { AdmissionController, admissionPolicy, type AdmissionPolicy } from '../../src/saga/admission.ts';
import { ADMISSION_REFRESH_MS, createAdmissionGate } from '../../src/saga/admission-gate.ts';
import { OrderStatuses, type OrderStatus } from '../../src/schemas.ts';

const policy = (over: Partial<AdmissionPolicy> = {}): AdmissionPolicy => ({
  maxInFlight: 100_000,
  targetLatencyMs: 2_000,
  floor: 50,
  windowMs: 5_000,
  memoryMs: 20_000,
  maxRetryAfterSec: 30,
  ...over,
});

/** Feeds the controller one sample per 100 ms: `rate` completions/s, `inFlight` not terminal. */
function feed(
  c: AdmissionController,
  from: { at: number; terminal: number },
  ms: number,
  rate: number,
  inFlight: number,
) {
  let { at, terminal } = from;
  for (let t = 0; t < ms; t += 100) {
    at += 100;
    terminal += rate / 10;
    c.observe(at, { inFlight, terminal }, c.beginRefresh());
  }
  return { at, terminal };
}

describe('admission controller', () => {
  it("lets in flight follow the completion rate times the target latency (Little's law)", () => {
    const c = new AdmissionController(policy());
    feed(c, { at: 0, terminal: 0 }, 5_000, 300, 10);
    assert.equal(Math.round(c.completionRate), 300);
    assert.equal(c.limit, 600); // 300/s x 2 s
    const faster = new AdmissionController(policy());
    feed(faster, { at: 0, terminal: 0 }, 5_000, 1_000, 10);
    assert.equal(faster.limit, 2_000);
  });

  it('keeps the best rate of the last memoryMs as capacity through a stall, then forgets it', () => {
    const c = new AdmissionController(policy());
    const at = feed(c, { at: 0, terminal: 0 }, 5_000, 300, 10);
    feed(c, at, 2_500, 0, 10);
    assert.equal(Math.round(c.completionRate), 150); // half the window at 300/s, half at 0
    const later = feed(c, { at: at.at + 2_500, terminal: at.terminal }, 5_000, 0, 10);
    assert.equal(c.completionRate, 0);
    assert.equal(c.limit, 600); // a stall (a worker restarting) does not shrink the capacity
    feed(c, later, 20_000, 0, 10);
    assert.equal(c.limit, 50); // completions gone for longer than memoryMs: back to the floor
  });

  it('starts an idle system at the floor, and never lets the limit pass MAX_IN_FLIGHT', () => {
    const idle = new AdmissionController(policy());
    assert.equal(idle.limit, 50);
    const capped = new AdmissionController(policy({ maxInFlight: 400 }));
    feed(capped, { at: 0, terminal: 0 }, 5_000, 1_000, 0);
    assert.equal(capped.limit, 400);
    assert.equal(new AdmissionController(policy({ maxInFlight: 20 })).limit, 20); // the cap wins over the floor
  });

  it('counts its own admissions as in flight until the store has seen them', () => {
    const c = new AdmissionController(policy({ floor: 3 }));
    c.observe(0, { inFlight: 1, terminal: 0 }, c.beginRefresh());
    assert.equal(c.admit().admitted, true);
    assert.equal(c.admit().admitted, true);
    assert.equal(c.inFlight, 3);
    const refused = c.admit();
    assert.equal(refused.admitted, false);
    c.release(); // one of them was not created after all
    assert.equal(c.inFlight, 2);
    // A refresh asked for now includes the two; one admitted while it was under way does not.
    const mark = c.beginRefresh();
    assert.equal(c.admit().admitted, true);
    c.observe(100, { inFlight: 2, terminal: 0 }, mark);
    assert.equal(c.inFlight, 3);
  });

  it('is off at MAX_IN_FLIGHT=0: admits everything, counts nothing', () => {
    const c = new AdmissionController(policy({ maxInFlight: 0 }));
    c.observe(0, { inFlight: 1_000_000, terminal: 0 }, c.beginRefresh());
    for (let i = 0; i < 1_000; i++) assert.equal(c.admit().admitted, true);
    assert.equal(c.enabled, false);
    assert.equal(c.limit, Number.POSITIVE_INFINITY);
  });

  it('answers Retry-After as the seconds the excess takes to drain at the observed rate, 1 to 30', () => {
    const c = new AdmissionController(policy());
    const at = feed(c, { at: 0, terminal: 0 }, 5_000, 100, 0); // limit 200
    c.observe(at.at, { inFlight: 599, terminal: at.terminal }, c.beginRefresh());
    assert.deepEqual(c.admit(), { admitted: false, retryAfterSec: 4, limit: 200, inFlight: 599 }); // 400 over at 100/s
    c.observe(at.at, { inFlight: 200, terminal: at.terminal }, c.beginRefresh());
    assert.equal((c.admit() as { retryAfterSec: number }).retryAfterSec, 1);
    c.observe(at.at, { inFlight: 100_000, terminal: at.terminal }, c.beginRefresh());
    assert.equal((c.admit() as { retryAfterSec: number }).retryAfterSec, 30);
    // No rate yet: the time admitted work is meant to take.
    const idle = new AdmissionController(policy({ floor: 1 }));
    idle.admit();
    assert.equal((idle.admit() as { retryAfterSec: number }).retryAfterSec, 2);
  });

  it('aims at a tenth of the step timeout, from a floor of 500', () => {
    const p = admissionPolicy(21_000, 30_000);
    assert.equal(p.targetLatencyMs, 3_000);
    assert.equal(p.floor, 500);
    assert.equal(p.maxInFlight, 21_000);
  });
});

function countsStore() {
  const counts = Object.fromEntries(OrderStatuses.map((s) => [s, 0])) as Record<OrderStatus, number>;
  const store = {
    counts,
    reads: 0,
    fail: false,
    async statusCounts() {
      store.reads++;
      if (store.fail) throw new Error('store down');
      return { ...counts };
    },
  };
  return store;
}

describe('admission gate', () => {
  it('reads the store at most once per refresh interval, however many orders arrive', async () => {
    const clock = new ManualClock();
    const store = countsStore();
    const gate = createAdmissionGate({ store, clock, policy: policy({ floor: 10 }) });
    await Promise.all(Array.from({ length: 5 }, () => gate.admit()));
    assert.equal(store.reads, 1);
    clock.advance(ADMISSION_REFRESH_MS - 1);
    await gate.admit();
    assert.equal(store.reads, 1);
    clock.advance(1);
    await gate.admit();
    assert.equal(store.reads, 2);
  });

  it('counts every non-terminal status as in flight, system-wide, and follows terminal totals', async () => {
    const clock = new ManualClock();
    const store = countsStore();
    const gate = createAdmissionGate({ store, clock, policy: policy({ floor: 10 }) });
    Object.assign(store.counts, { PENDING: 2, RESERVING: 3, PAYING: 1, COMPENSATING: 4, COMPLETED: 1_000 });
    assert.deepEqual(await gate.admit(), { admitted: false, retryAfterSec: 2, limit: 10, inFlight: 10 });
    for (let i = 1; i <= 10; i++) {
      clock.advance(ADMISSION_REFRESH_MS);
      store.counts.COMPLETED += 20; // 100/s
      store.counts.CANCELLED += 5; // 25/s
      await gate.admit();
    }
    assert.equal(Math.round(gate.view().completionRate), 125);
    assert.equal(gate.view().limit, 250);
  });

  it('admits up to the floor when the store cannot be read', async () => {
    const clock = new ManualClock();
    const store = countsStore();
    store.fail = true;
    const gate = createAdmissionGate({ store, clock, policy: policy({ floor: 2 }) });
    assert.equal((await gate.admit()).admitted, true);
    assert.equal((await gate.admit()).admitted, true);
    assert.equal((await gate.admit()).admitted, false);
  });

  it('counts shed orders, shows its limit and in flight as gauges, and logs shedding once a second', async () => {
    const clock = new ManualClock();
    const store = countsStore();
    const metrics = createMetrics();
    const lines: { msg: string; shed?: number }[] = [];
    const logger = {
      warn: (obj: { shed: number }, msg: string) => void lines.push({ ...obj, msg }),
      debug() {},
    } as unknown as Logger;
    const gate = createAdmissionGate({ store, clock, policy: policy({ floor: 1 }), metrics, logger });
    await gate.admit();
    store.counts.PENDING = 1; // the store has seen the one admitted
    for (let i = 0; i < 10; i++) {
      const v = await gate.admit();
      assert.equal(v.admitted, false);
      if (!v.admitted) gate.shed(v);
      clock.advance(250);
    }
    const text = await metrics.registry.metrics();
    assert.match(text, /^orders_shed_total 10$/m);
    assert.match(text, /^admission_limit 1$/m);
    assert.match(text, /^admission_in_flight 1$/m);
    assert.equal(lines.length, 3); // at 0, 1000 and 2000 ms
    assert.deepEqual(
      lines.map((l) => l.shed),
      [1, 4, 4],
    );
    assert.match(lines[0]!.msg, /OVERLOADED/);
    gate.close();
  });
});
