/**
 * POST /orders and GET /orders/{orderId}. The order is written (key claim, record,
 * PENDING snapshot, deadline: one atomic store call) before order.start is published,
 * so a 202 always names an order that GET can read.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { CreateOutcome } from '../../ports/store.ts';
import { newOrderSaga } from '../../saga/snapshot.ts';
import { Id, Items, type Item } from '../../schemas.ts';
import { message, Topics } from '../../topics.ts';
import type { RouteOptions } from '../deps.ts';
import { ApiError, fromStore, notFound, unavailable } from '../errors.ts';
import { bodyHash, IDEMPOTENCY_HEADER, idempotencyKey } from '../idempotency.ts';
import { createLongPolls, MAX_WAIT_MS } from '../long-poll.ts';
import { rateLimitHook } from '../rate-limit.ts';
import { parseOr400 } from '../validate.ts';

const PUBLISH_FAILED = 'order recorded, but the broker did not confirm order.start; retry with the same Idempotency-Key';

export const ordersRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  const { store, broker, clock, metrics } = deps;
  const newOrderId = deps.newOrderId ?? randomUUID;
  const longPolls = createLongPolls(store);
  // preClose, not onClose: server.close() waits for in-flight requests, held long-polls included.
  app.addHook('preClose', async () => longPolls.closeAll());

  async function publishStart(orderId: string, userId: string, items: Item[]): Promise<void> {
    try {
      await broker.publish([message(Topics.orderStart, { orderId, userId, items })]);
    } catch (err) {
      throw unavailable(PUBLISH_FAILED, { orderId }, err);
    }
  }

  const OrderBody = z.strictObject({ userId: Id, items: Items });

  app.post('/orders', { onRequest: rateLimitHook(clock, deps.rateLimitPerSec) }, async (request, reply) => {
    const key = idempotencyKey(request.headers[IDEMPOTENCY_HEADER]);
    const body = parseOr400(OrderBody, request.body, 'invalid order');
    const { userId, items } = body;

    const orderId = newOrderId();
    const { snapshot, view, wakeAt } = newOrderSaga({
      orderId,
      userId,
      items,
      createdAt: clock.now(),
      stepTimeoutMs: deps.stepTimeoutMs,
      compensationRetry: deps.compensationRetry,
    });
    let outcome: CreateOutcome;
    try {
      outcome = await store.createOrder({
        orderId,
        idempotency: key === undefined ? undefined : { key, bodyHash: bodyHash(body) },
        view,
        snapshot,
        wakeAt,
      });
    } catch (err) {
      throw unavailable('order could not be recorded; nothing was accepted', {}, err);
    }

    if (outcome.created) {
      metrics.ordersAccepted.inc();
      await publishStart(orderId, userId, items);
      return reply.code(202).header('location', `/orders/${orderId}`).send({ orderId, status: 'PENDING' });
    }

    if (!outcome.sameBody) throw new ApiError(422, { error: 'Idempotency-Key was used with a different body' });
    const existing = await fromStore(() => store.getOrder(outcome.orderId));
    if (existing === null) throw unavailable('order record not readable; retry');
    // Still PENDING: the first publish may have failed, so this is how a client recovers.
    if (existing.status === 'PENDING') await publishStart(existing.orderId, existing.userId, existing.items);
    return reply
      .code(202)
      .header('location', `/orders/${existing.orderId}`)
      .send({ orderId: existing.orderId, status: existing.status });
  });

  const OrderParams = z.object({ orderId: Id });
  const OrderQuery = z.object({
    wait: z
      .string()
      .regex(/^\d{1,5}$/, `must be an integer from 0 to ${MAX_WAIT_MS}`)
      .transform(Number)
      .refine((ms) => ms <= MAX_WAIT_MS, `must be an integer from 0 to ${MAX_WAIT_MS}`)
      .optional(),
  });

  app.get('/orders/:orderId', async (request, reply) => {
    const { orderId } = parseOr400(OrderParams, request.params, 'invalid orderId');
    const { wait } = parseOr400(OrderQuery, request.query, 'invalid query', 'query');
    const view =
      wait === undefined
        ? await fromStore(() => store.getOrder(orderId))
        : await longPolls.wait(orderId, wait, reply.raw);
    if (view === null) throw notFound('order');
    return reply.send(view);
  });
};
