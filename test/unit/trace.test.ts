/**
 * W3C trace context: the traceparent of POST /orders travels in the headers of every
 * message of that order, each hop with a new span id; the sweeper's TIMEOUTs join the
 * trace stored with the order; logs carry traceId and the message's place.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { Delivery } from '../../src/ports/broker.ts';
import { AllTopics, Topics } from '../../src/topics.ts';
import { childTrace, formatTraceparent, newTrace, parseTraceparent, TRACEPARENT } from '../../src/trace.ts';
import { createHarness, type Harness, type HarnessOptions } from '../helpers/harness.ts';

const INCOMING = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const INCOMING_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const INCOMING_SPAN = '00f067aa0ba902b7';
const SHAPE = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

describe('trace context', () => {
  it('parses a valid traceparent and refuses malformed ones', () => {
    assert.deepEqual(parseTraceparent(INCOMING), { traceId: INCOMING_TRACE, spanId: INCOMING_SPAN, flags: '01' });
    assert.equal(parseTraceparent(INCOMING.toUpperCase())?.traceId, INCOMING_TRACE);
    for (const bad of [
      undefined,
      '',
      'garbage',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7', // no flags
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', // short trace id
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', // all-zero trace id
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', // all-zero span id
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', // forbidden version
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', // version 00 has four fields
      '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01', // not hex
    ]) {
      assert.equal(parseTraceparent(bad), null, `should refuse ${bad}`);
    }
  });

  it('a child keeps the trace id with a new span id; an invalid parent starts a new trace', () => {
    const child = childTrace(INCOMING);
    assert.equal(child.traceId, INCOMING_TRACE);
    assert.notEqual(child.spanId, INCOMING_SPAN);
    assert.match(formatTraceparent(child), SHAPE);
    const grandchild = childTrace(child);
    assert.equal(grandchild.traceId, INCOMING_TRACE);
    assert.notEqual(grandchild.spanId, child.spanId);

    const fresh = childTrace('nonsense');
    assert.notEqual(fresh.traceId, INCOMING_TRACE);
    assert.match(formatTraceparent(fresh), SHAPE);
    assert.notEqual(newTrace().traceId, newTrace().traceId);
    const spans = new Set(Array.from({ length: 2_000 }, () => childTrace(INCOMING).spanId));
    assert.equal(spans.size, 2_000, 'span ids do not repeat');
  });
});

describe('trace context through an order', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** A system with the api, and a listener group on every topic that records each message. */
  async function start(opts: HarnessOptions = {}) {
    h = await createHarness({ roles: ['api', 'stock', 'order', 'payment'], ...opts });
    await h.store.seed([{ productId: 'p1', stock: 10, price: 250 }], [{ userId: 'u1', balance: 10_000 }]);
    const seen: Delivery[] = [];
    await h.broker.subscribe({ group: 'trace-listener', topics: AllTopics, handler: async (d) => void seen.push(d) });
    const post = (headers: Record<string, string> = {}) =>
      h!.system.api!.inject({
        method: 'POST',
        url: '/orders',
        payload: { userId: 'u1', items: [{ productId: 'p1', quantity: 2 }] },
        headers,
      });
    const messagesOf = (orderId: string) => seen.filter((d) => d.key === orderId);
    return { h, post, messagesOf };
  }

  it("carries the POST's trace id to every message of the order, order.completed included, a new span at each hop", async () => {
    const { h, post, messagesOf } = await start({ seed: 11 });
    const res = await post({ [TRACEPARENT]: INCOMING });
    assert.equal(res.statusCode, 202);
    const answered = parseTraceparent(res.headers[TRACEPARENT] as string);
    assert.ok(answered, 'the response has a traceparent');
    assert.equal(answered.traceId, INCOMING_TRACE, 'the response continues the caller’s trace');
    assert.notEqual(answered.spanId, INCOMING_SPAN, 'with the api’s own span');

    const { orderId } = res.json() as { orderId: string };
    await h.broker.drain();
    assert.equal((await h.store.getOrder(orderId))!.status, 'COMPLETED');

    const messages = messagesOf(orderId);
    assert.deepEqual(
      messages.map((d) => d.topic).sort(),
      [
        Topics.orderCompleted,
        Topics.orderStart,
        Topics.paymentRequest,
        Topics.paymentSuccess,
        Topics.stockSuccess,
      ].sort(),
    );
    const traces = messages.map((d) => parseTraceparent(d.headers[TRACEPARENT]));
    for (const [i, t] of traces.entries()) {
      assert.equal(t?.traceId, INCOMING_TRACE, `${messages[i]!.topic} carries the trace id`);
    }
    const spans = traces.map((t) => t!.spanId);
    assert.equal(new Set([...spans, INCOMING_SPAN]).size, spans.length + 1, 'every hop has its own span id');
    const orderStart = messages.find((d) => d.topic === Topics.orderStart)!;
    assert.equal(
      orderStart.headers[TRACEPARENT],
      res.headers[TRACEPARENT],
      'order.start carries the span the api answered with',
    );
  });

  it('starts a new trace when the incoming traceparent is invalid or missing', async () => {
    const { h, post, messagesOf } = await start({ seed: 12 });
    for (const headers of [{ [TRACEPARENT]: '00-zz-not-a-trace' }, {}] as Record<string, string>[]) {
      const res = await post(headers);
      assert.equal(res.statusCode, 202);
      assert.match(res.headers[TRACEPARENT] as string, SHAPE);
      const traceId = parseTraceparent(res.headers[TRACEPARENT] as string)!.traceId;
      await h.broker.drain();
      const messages = messagesOf((res.json() as { orderId: string }).orderId);
      assert.ok(messages.length >= 5);
      assert.deepEqual(
        new Set(messages.map((d) => parseTraceparent(d.headers[TRACEPARENT])?.traceId)),
        new Set([traceId]),
      );
    }
  });

  it("joins the order's stored trace on messages sent because a deadline passed", async () => {
    // No stock worker: the reservation deadline passes and the sweeper's TIMEOUT compensates.
    const { h, post, messagesOf } = await start({ seed: 13, roles: ['api', 'order', 'payment'] });
    const res = await post({ [TRACEPARENT]: INCOMING });
    const { orderId } = res.json() as { orderId: string };
    await h.broker.drain();
    h.clock.advance(h.stepTimeoutMs);
    assert.equal(await h.system.order!.sweeper.tick(), 1);
    await h.broker.drain();
    assert.equal((await h.store.getOrder(orderId))!.status, 'COMPENSATING');
    const rollback = messagesOf(orderId).find((d) => d.topic === Topics.stockRollback);
    assert.ok(rollback, 'the compensation went out');
    assert.equal(parseTraceparent(rollback.headers[TRACEPARENT])?.traceId, INCOMING_TRACE);
  });

  it('logs saga and worker lines with orderId, traceId, topic, partition and offset', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
    );
    const { h, post } = await start({ seed: 14, logger });
    const res = await post({ [TRACEPARENT]: INCOMING });
    const { orderId } = res.json() as { orderId: string };
    await h.broker.drain();

    const ofOrder = lines.filter((l) => l.orderId === orderId);
    const messages = new Set(ofOrder.map((l) => l.msg));
    for (const msg of [
      'saga transition',
      'saga transition: order finished',
      'stock reserve handled',
      'payment charge handled',
    ]) {
      assert.ok(messages.has(msg), `a "${msg}" line`);
    }
    for (const line of ofOrder.filter(
      (l) => String(l.msg).startsWith('saga transition') || String(l.msg).endsWith('handled'),
    )) {
      assert.equal(line.traceId, INCOMING_TRACE, `${String(line.msg)} carries traceId`);
      assert.equal(typeof line.topic, 'string');
      assert.equal(typeof line.partition, 'number');
      assert.equal(typeof line.offset, 'number');
    }
    const finished = ofOrder.find((l) => l.msg === 'saga transition: order finished')!;
    assert.equal(finished.level, 30, 'an order’s end is info');
    assert.equal(finished.topic, Topics.paymentSuccess);
    assert.ok(
      ofOrder.filter((l) => l.msg === 'saga transition').every((l) => l.level === 20),
      'other transitions are debug',
    );
  });
});
