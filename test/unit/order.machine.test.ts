import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as xstate from 'xstate';
import {
  nextWakeUp,
  OrderStatuses,
  orderMachine,
  UndoStatuses,
  type OrderEvent,
  type OrderInput,
  type Status,
} from '../../machines/order.machine.ts';
import { persist, restore } from '../../src/saga/persisted.ts';
import { fastInitialSnapshot, fastTransition } from '../../src/saga/stepping.ts';

/**
 * Every path below runs through both xstate's own transition() and the host's fast
 * stepping (src/saga/stepping.ts), which must agree on every snapshot and every action.
 */
type Snapshot = ReturnType<typeof xstate.initialTransition<typeof orderMachine>>[0];
const shape = (s: Snapshot) => ({ value: s.value, status: s.status, context: s.context });
const actionsOf = (actions: readonly { type: string; params?: unknown }[]) =>
  actions.map((a) => ({ type: a.type, params: a.params }));
let compared = 0;

function initialTransition(machine: typeof orderMachine, orderInput: OrderInput) {
  const result = xstate.initialTransition(machine, orderInput);
  assert.deepEqual(
    shape(fastInitialSnapshot(orderInput)),
    shape(result[0]),
    'fast initial snapshot = initialTransition()',
  );
  return result;
}

function transition(machine: typeof orderMachine, snapshot: Snapshot, event: OrderEvent) {
  const result = xstate.transition(machine, snapshot, event);
  const [fastNext, fastActions] = fastTransition(snapshot, event);
  assert.deepEqual(shape(fastNext), shape(result[0]), `fast step = transition() on ${event.type}`);
  assert.equal(fastNext === snapshot, result[0] === snapshot, `both say whether ${event.type} changed anything`);
  assert.deepEqual(actionsOf(fastActions), actionsOf(result[1]), `same actions on ${event.type}`);
  compared++;
  return result;
}

const T0 = 1_000_000;
const STEP = 1_000;
const input: OrderInput = {
  orderId: 'o1',
  userId: 'u1',
  items: [{ productId: 'p1', quantity: 2 }],
  createdAt: T0,
  stepTimeoutMs: STEP,
  compensationRetry: { initialMs: 100, maxMs: 400, factor: 2 },
};

type Snap = Snapshot;

/** Steps from the initial snapshot (or a given one) through events; returns every step. */
function run(events: OrderEvent[], from?: Snap) {
  let snapshot = from ?? initialTransition(orderMachine, input)[0];
  const steps: { status: Status; actions: { type: string; params: unknown }[] }[] = [];
  for (const event of events) {
    const [next, actions] = transition(orderMachine, snapshot, event);
    snapshot = next;
    steps.push({ status: next.value as Status, actions: actions.map((a) => ({ type: a.type, params: a.params })) });
  }
  return { snapshot, steps, last: steps.at(-1)! };
}

const ok = (totalPrice = 3_000) => ({ ok: true as const, totalPrice });
const types = (actions: { type: string }[]) => actions.map((a) => a.type);

describe('order machine', () => {
  it('starts PENDING with its start deadline and history', () => {
    const [s, actions] = initialTransition(orderMachine, input);
    assert.equal(s.value, 'PENDING');
    assert.equal(s.context.startDeadline, T0 + STEP);
    assert.deepEqual(s.context.history, [{ status: 'PENDING', at: T0 }]);
    assert.deepEqual(actions, []);
    assert.equal(nextWakeUp('PENDING', s.context), T0 + STEP);
  });

  it('completes on the happy path, passing through ORDERING, and publishes each step once', () => {
    const { snapshot, steps } = run([
      { type: 'START', now: T0 + 1 },
      { type: 'STOCK_RESERVED', now: T0 + 2, pricing: ok(3_000) },
      { type: 'PAYMENT_CHARGED', now: T0 + 3 },
    ]);
    assert.deepEqual(
      steps.map((s) => s.status),
      ['RESERVING', 'PAYING', 'COMPLETED'],
    );
    assert.deepEqual(steps[1]!.actions, [
      { type: 'publishPaymentRequest', params: { orderId: 'o1', userId: 'u1', amount: 3_000 } },
    ]);
    assert.deepEqual(steps[2]!.actions, [
      { type: 'publishOrderCompleted', params: { orderId: 'o1', userId: 'u1', totalPrice: 3_000 } },
    ]);
    assert.equal(snapshot.status, 'done');
    assert.equal(snapshot.context.totalPrice, 3_000);
    assert.deepEqual(
      snapshot.context.history.map((h) => h.status),
      ['PENDING', 'RESERVING', 'ORDERING', 'PAYING', 'COMPLETED'],
    );
    assert.equal(nextWakeUp('COMPLETED', snapshot.context), null);
  });

  it('goes straight on when stock.success overtakes the saga’s own order.start', () => {
    const { steps, snapshot } = run([
      { type: 'STOCK_RESERVED', now: T0 + 2, pricing: ok() },
      { type: 'START', now: T0 + 3 },
    ]);
    assert.equal(steps[0]!.status, 'PAYING');
    assert.equal(steps[1]!.status, 'PAYING', 'the late START changes nothing');
    assert.deepEqual(steps[1]!.actions, []);
    assert.equal(snapshot.context.paymentDeadline, T0 + 2 + STEP);
  });

  for (const from of ['PENDING', 'RESERVING'] as const) {
    it(`rejects from ${from} when the stock service refuses, with nothing to undo`, () => {
      const events: OrderEvent[] = from === 'RESERVING' ? [{ type: 'START', now: T0 + 1 }] : [];
      const { snapshot, last } = run([
        ...events,
        { type: 'STOCK_REFUSED', now: T0 + 5, failure: { code: 'OUT_OF_STOCK', message: 'p1 short' } },
      ]);
      assert.equal(last.status, 'REJECTED');
      assert.deepEqual(last.actions, [
        {
          type: 'publishOrderCancel',
          params: {
            orderId: 'o1',
            userId: 'u1',
            status: 'REJECTED',
            reason: { code: 'OUT_OF_STOCK', message: 'p1 short' },
          },
        },
      ]);
      assert.deepEqual(snapshot.context.reason, { code: 'OUT_OF_STOCK', message: 'p1 short' });
    });
  }

  for (const code of ['UNKNOWN_USER', 'LIMIT_EXCEEDED'] as const) {
    it(`compensates the reservation when ordering fails with ${code}`, () => {
      const { steps, snapshot } = run([
        { type: 'START', now: T0 + 1 },
        { type: 'STOCK_RESERVED', now: T0 + 2, pricing: { ok: false, failure: { code, message: code } } },
        { type: 'STOCK_RELEASED', now: T0 + 3 },
      ]);
      assert.equal(steps[1]!.status, 'COMPENSATING');
      assert.deepEqual(types(steps[1]!.actions), ['publishStockRollback'], 'payment was never requested: no refund');
      assert.equal(steps[2]!.status, 'CANCELLED');
      assert.equal(snapshot.context.reason?.code, code);
      assert.deepEqual(
        snapshot.context.history.map((h) => h.status),
        ['PENDING', 'RESERVING', 'ORDERING', 'COMPENSATING', 'CANCELLED'],
      );
    });
  }

  it('compensates stock and payment when payment is refused, and cancels only when both undos are confirmed', () => {
    const { steps, snapshot } = run([
      { type: 'START', now: T0 + 1 },
      { type: 'STOCK_RESERVED', now: T0 + 2, pricing: ok() },
      { type: 'PAYMENT_REFUSED', now: T0 + 3, failure: { code: 'INSUFFICIENT_BALANCE', message: 'poor' } },
      { type: 'PAYMENT_REFUNDED', now: T0 + 4 },
      { type: 'STOCK_RELEASED', now: T0 + 5 },
    ]);
    assert.equal(steps[2]!.status, 'COMPENSATING');
    assert.deepEqual(types(steps[2]!.actions), ['publishStockRollback', 'publishPaymentRefund']);
    assert.equal(steps[3]!.status, 'COMPENSATING', 'stock undo still unconfirmed');
    assert.equal(steps[4]!.status, 'CANCELLED');
    assert.deepEqual(types(steps[4]!.actions), ['publishOrderCancel']);
    assert.equal(snapshot.context.reason?.code, 'INSUFFICIENT_BALANCE');
  });

  describe('deadlines are data', () => {
    const cases: { state: Status; before: OrderEvent[]; deadline: number; undo: string[] }[] = [
      { state: 'PENDING', before: [], deadline: T0 + STEP, undo: ['publishStockRollback'] },
      {
        state: 'RESERVING',
        before: [{ type: 'START', now: T0 + 10 }],
        deadline: T0 + 10 + STEP,
        undo: ['publishStockRollback'],
      },
      {
        state: 'PAYING',
        before: [
          { type: 'START', now: T0 + 10 },
          { type: 'STOCK_RESERVED', now: T0 + 20, pricing: ok() },
        ],
        deadline: T0 + 20 + STEP,
        undo: ['publishStockRollback', 'publishPaymentRefund'],
      },
    ];
    for (const c of cases) {
      it(`does nothing on a TIMEOUT before the ${c.state} deadline`, () => {
        const { snapshot } = run(c.before);
        assert.equal(snapshot.value, c.state);
        assert.equal(nextWakeUp(c.state, snapshot.context), c.deadline);
        const [next, actions] = transition(orderMachine, snapshot, { type: 'TIMEOUT', now: c.deadline - 1 });
        assert.equal(next, snapshot, 'same snapshot: no transition');
        assert.deepEqual(actions, []);
      });
      it(`cancels with TIMEOUT when the ${c.state} deadline passes, undoing every requested step`, () => {
        const { snapshot } = run(c.before);
        const { last, snapshot: after } = run([{ type: 'TIMEOUT', now: c.deadline }], snapshot);
        assert.equal(last.status, 'COMPENSATING');
        assert.deepEqual(types(last.actions), c.undo);
        assert.equal(after.context.reason?.code, 'TIMEOUT');
        assert.equal(
          nextWakeUp('COMPENSATING', after.context),
          c.deadline + 100,
          'retry-at replaces the step deadline',
        );
      });
    }

    it('re-sends only unconfirmed undos with backoff while compensating, and never gives up', () => {
      const paying = run([
        { type: 'START', now: T0 },
        { type: 'STOCK_RESERVED', now: T0, pricing: ok() },
        { type: 'TIMEOUT', now: T0 + STEP },
        { type: 'STOCK_RELEASED', now: T0 + STEP + 1 },
      ]).snapshot;
      let s = paying;
      const retryTimes: number[] = [];
      for (let i = 0; i < 6; i++) {
        const due = s.context.compensationRetryAt!;
        retryTimes.push(due);
        const [early] = transition(orderMachine, s, { type: 'TIMEOUT', now: due - 1 });
        assert.equal(early, s, 'nothing before retry-at');
        const [next, actions] = transition(orderMachine, s, { type: 'TIMEOUT', now: due });
        assert.equal(next.value, 'COMPENSATING');
        assert.deepEqual(types(actions), ['publishPaymentRefund'], 'stock undo is confirmed: only the refund again');
        s = next;
      }
      const gaps = retryTimes.slice(1).map((t, i) => t - retryTimes[i]!);
      assert.deepEqual(gaps, [200, 400, 400, 400, 400], 'doubling, capped at maxMs');
      const [done] = transition(orderMachine, s, { type: 'PAYMENT_REFUNDED', now: s.context.compensationRetryAt! });
      assert.equal(done.value, 'CANCELLED');
    });

    it('re-sends undos by the whole backoff policy of the order, its factor included', () => {
      const tripling = { ...input, compensationRetry: { initialMs: 100, maxMs: 1_000, factor: 3 } };
      let s = run([{ type: 'TIMEOUT', now: T0 + STEP }], initialTransition(orderMachine, tripling)[0]).snapshot;
      assert.equal(s.value, 'COMPENSATING');
      const retryTimes: number[] = [];
      for (let i = 0; i < 4; i++) {
        retryTimes.push(s.context.compensationRetryAt!);
        s = transition(orderMachine, s, { type: 'TIMEOUT', now: s.context.compensationRetryAt! })[0];
      }
      assert.equal(retryTimes[0], T0 + STEP + 100, 'the first retry after initialMs');
      const gaps = retryTimes.slice(1).map((t, i) => t - retryTimes[i]!);
      assert.deepEqual(gaps, [300, 900, 1_000], 'tripling, capped at maxMs');
    });
  });

  describe('late replies after a timeout', () => {
    const timedOutPaying = () =>
      run([
        { type: 'START', now: T0 },
        { type: 'STOCK_RESERVED', now: T0, pricing: ok() },
        { type: 'TIMEOUT', now: T0 + STEP },
      ]).snapshot;

    it('ignores a late stock.success while compensating: the rollback already sent covers it', () => {
      const s = run([{ type: 'TIMEOUT', now: T0 + STEP }]).snapshot;
      assert.equal(s.value, 'COMPENSATING');
      const [next, actions] = transition(orderMachine, s, {
        type: 'STOCK_RESERVED',
        now: T0 + STEP + 5,
        pricing: ok(),
      });
      assert.equal(next, s);
      assert.deepEqual(actions, []);
      assert.equal(next.context.stockUndo, 'pending', 'still waits for stock.released');
    });

    it('keeps waiting for the refund when a late charge succeeds, and keeps the first reason', () => {
      const s = timedOutPaying();
      const [afterCharge] = transition(orderMachine, s, { type: 'PAYMENT_CHARGED', now: T0 + STEP + 1 });
      assert.equal(afterCharge.value, 'COMPENSATING', 'a late charge never completes a compensating order');
      const [afterRefusal] = transition(orderMachine, afterCharge, {
        type: 'PAYMENT_REFUSED',
        now: T0 + STEP + 2,
        failure: { code: 'INSUFFICIENT_BALANCE', message: 'late' },
      });
      assert.equal(afterRefusal.context.reason?.code, 'TIMEOUT', 'the first failure sets the reason');
      const { snapshot: end } = run(
        [
          { type: 'PAYMENT_REFUNDED', now: T0 + STEP + 3 },
          { type: 'STOCK_RELEASED', now: T0 + STEP + 4 },
        ],
        afterRefusal,
      );
      assert.equal(end.value, 'CANCELLED');
      assert.equal(end.context.reason?.code, 'TIMEOUT');
    });
  });

  it('never leaves a terminal state, whatever arrives', () => {
    const terminal = run([
      { type: 'STOCK_REFUSED', now: T0 + 1, failure: { code: 'UNKNOWN_PRODUCT', message: 'x' } },
    ]).snapshot;
    const events: OrderEvent[] = [
      { type: 'START', now: T0 + 2 },
      { type: 'STOCK_RESERVED', now: T0 + 3, pricing: ok() },
      { type: 'PAYMENT_CHARGED', now: T0 + 4 },
      { type: 'STOCK_RELEASED', now: T0 + 5 },
      { type: 'TIMEOUT', now: T0 + 10 * STEP },
    ];
    for (const e of events) {
      const [next, actions] = transition(orderMachine, terminal, e);
      assert.equal(next, terminal, `${e.type} changes nothing`);
      assert.deepEqual(actions, []);
    }
  });

  it('sends undos only into its undo statuses, and never leaves them once there (every reachable step)', () => {
    // Workers obey an undo only for an order in UndoStatuses (rule `idempotent-effects`,
    // docs/architecture.md); this walks every reachable state and event to prove that refuses no undo the saga sent.
    const failure = { code: 'INSUFFICIENT_BALANCE' as const, message: 'x' };
    const eventsAt = (now: number): OrderEvent[] => [
      { type: 'START', now },
      { type: 'STOCK_RESERVED', now, pricing: ok() },
      { type: 'STOCK_RESERVED', now, pricing: { ok: false, failure: { code: 'UNKNOWN_USER', message: 'x' } } },
      { type: 'STOCK_REFUSED', now, failure: { code: 'OUT_OF_STOCK', message: 'x' } },
      { type: 'PAYMENT_CHARGED', now },
      { type: 'PAYMENT_REFUSED', now, failure },
      { type: 'STOCK_RELEASED', now },
      { type: 'PAYMENT_REFUNDED', now },
      { type: 'TIMEOUT', now },
    ];
    const undoing = new Set<Status>(UndoStatuses);
    const keyOf = (s: Snap) =>
      JSON.stringify([
        s.value,
        s.context.stockUndo,
        s.context.paymentUndo,
        s.context.paymentRequested,
        Math.min(s.context.compensationAttempts, 2),
      ]);
    const seen = new Set<string>();
    const reached = new Set<Status>();
    let frontier: { snapshot: Snap; now: number }[] = [
      { snapshot: initialTransition(orderMachine, input)[0], now: T0 },
    ];
    while (frontier.length > 0) {
      const next: typeof frontier = [];
      for (const { snapshot, now } of frontier) {
        const from = snapshot.value as Status;
        for (const event of eventsAt(now + 10 * STEP)) {
          const [after, actions] = transition(orderMachine, snapshot, event);
          const to = after.value as Status;
          const sendsUndo = actions.some((a) => a.type === 'publishStockRollback' || a.type === 'publishPaymentRefund');
          if (sendsUndo) assert.ok(undoing.has(to), `${from} --${event.type}--> ${to} sends an undo`);
          if (undoing.has(from))
            assert.ok(undoing.has(to), `${from} --${event.type}--> ${to} leaves the undo statuses`);
          for (const h of after.context.history) reached.add(h.status);
          const key = keyOf(after);
          if (!seen.has(key)) {
            seen.add(key);
            next.push({ snapshot: after, now: event.now });
          }
        }
      }
      frontier = next;
    }
    assert.deepEqual(
      [...reached].sort(),
      [...OrderStatuses].sort(),
      'every status was passed through (ORDERING never rested in)',
    );
  });

  it('survives a JSON round-trip of its snapshot and keeps going', () => {
    let { snapshot } = run([
      { type: 'START', now: T0 + 1 },
      { type: 'STOCK_RESERVED', now: T0 + 2, pricing: ok(42) },
    ]);
    const persisted = JSON.parse(JSON.stringify(persist(snapshot)));
    snapshot = restore(persisted);
    assert.equal(snapshot.value, 'PAYING');
    const [next, actions] = transition(orderMachine, snapshot, { type: 'TIMEOUT', now: T0 + 2 + STEP });
    assert.equal(next.value, 'COMPENSATING');
    assert.deepEqual(types(actions), ['publishStockRollback', 'publishPaymentRefund']);
    const again = restore(JSON.parse(JSON.stringify(persist(next))));
    const { last } = run(
      [
        { type: 'STOCK_RELEASED', now: T0 + 3 + STEP },
        { type: 'PAYMENT_REFUNDED', now: T0 + 4 + STEP },
      ],
      again,
    );
    assert.equal(last.status, 'CANCELLED');
  });

  it('reads a snapshot stored before the compensation policy carried its factor as doubling', () => {
    const paying = run([
      { type: 'START', now: T0 },
      { type: 'STOCK_RESERVED', now: T0, pricing: ok() },
    ]).snapshot;
    const stored = JSON.parse(JSON.stringify(persist(paying)));
    delete stored.context.compensationRetry.factor;
    const [compensating] = transition(orderMachine, restore(stored), { type: 'TIMEOUT', now: T0 + STEP });
    const [retried] = transition(orderMachine, compensating, {
      type: 'TIMEOUT',
      now: compensating.context.compensationRetryAt!,
    });
    assert.equal(retried.context.compensationRetryAt! - compensating.context.compensationRetryAt!, 200);
  });

  it('refuses a snapshot of another machine version with a clear, non-retriable error', () => {
    const persisted = { ...persist(initialTransition(orderMachine, input)[0]), v: 99 };
    assert.throws(
      () => restore(persisted),
      (err: Error & { code?: string; retriable?: boolean }) =>
        err.name === 'UnsupportedVersionError' && err.code === 'UNSUPPORTED_VERSION' && err.retriable === false,
    );
  });

  it('ran every path above through both the fast stepping and transition()', () => {
    assert.ok(compared > 50, `compared ${compared} steps`);
  });
});
