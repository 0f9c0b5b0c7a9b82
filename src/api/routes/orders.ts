/**
 * POST /orders and GET /orders/{orderId}. The order is written (key claim, record,
 * PENDING snapshot, deadline: one atomic store call) before order.start is published,
 * so a 202 always names an order that GET can read. With user authentication on, a user
 * orders as itself only (403 otherwise) and sees its own orders only (404 otherwise).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { acceptOrder } from '../../saga/accept.ts';
import { admissionPolicy } from '../../saga/admission.ts';
import { createAdmissionGate } from '../../saga/admission-gate.ts';
import type { ErrorCode } from '../../errors.ts';
import { Id, Items } from '../../schemas.ts';
import { childTrace, formatTraceparent, TRACEPARENT } from '../../trace.ts';
import type { UserRouteOptions, WaitingRouteOptions } from '../deps.ts';
import { ApiError, fromStore, notFound, unavailable } from '../errors.ts';
import { bodyHash, IDEMPOTENCY_HEADER, idempotencyKey, scopedKey } from '../idempotency.ts';
import { createLongPolls, MAX_WAIT_MS } from '../long-poll.ts';
import { rateLimitHook } from '../rate-limit.ts';
import { parseOr400 } from '../validate.ts';

const OVERLOADED = 'too many orders in flight; nothing was recorded, retry after Retry-After seconds';
const PUBLISH_FAILED =
  'order recorded, but the broker did not confirm order.start; retry with the same Idempotency-Key';

export const ordersRoutes: FastifyPluginAsync<UserRouteOptions & WaitingRouteOptions> = async (
  app,
  { deps, users, waits },
) => {
  const { store, clock, metrics } = deps;
  const newOrderId = deps.newOrderId ?? randomUUID;
  const longPolls = createLongPolls(store);
  // preClose, not onClose: server.close() waits for in-flight requests, held long-polls included.
  app.addHook('preClose', async () => longPolls.closeAll());

  const admission = createAdmissionGate({
    store,
    clock,
    policy: admissionPolicy(deps.maxInFlight ?? 0, deps.stepTimeoutMs),
    metrics,
    logger: deps.logger,
  });
  app.addHook('onClose', async () => admission.close());

  const OrderBody = z.strictObject({ userId: Id, items: Items });
  const acceptDeps = { ...deps, newOrderId, admission };

  // onRequest: an unauthenticated request is refused before its body is read.
  const onRequest = [rateLimitHook(clock, deps.rateLimitPerSec), users.requireUser];
  app.post('/orders', { onRequest }, async (request, reply) => {
    // This request's span: a child of the caller's traceparent, or a new trace when there is
    // none or it is invalid. It goes on order.start and back to the caller, errors included.
    const incoming = request.headers[TRACEPARENT];
    const trace = childTrace(typeof incoming === 'string' ? incoming : undefined);
    const traceparent = formatTraceparent(trace);
    reply.header(TRACEPARENT, traceparent);
    const key = idempotencyKey(request.headers[IDEMPOTENCY_HEADER]);
    const body = parseOr400(OrderBody, request.body, 'invalid order');
    const subject = users.subject(request);
    if (subject !== null && subject !== body.userId) {
      throw new ApiError(403, { error: "the order's userId is not the bearer token's subject" });
    }
    const outcome = await acceptOrder(
      acceptDeps,
      body,
      key === undefined ? undefined : { key: scopedKey(key, subject), bodyHash: bodyHash(body) },
      { [TRACEPARENT]: traceparent },
    );
    if ((outcome.kind === 'accepted' || outcome.kind === 'unpublished') && outcome.created)
      metrics.ordersAccepted.inc();
    if (outcome.kind === 'accepted' || outcome.kind === 'unpublished') {
      request.log.debug(
        { orderId: outcome.orderId, traceId: trace.traceId, outcome: outcome.kind, created: outcome.created },
        'order recorded',
      );
    }
    switch (outcome.kind) {
      case 'accepted':
        return reply
          .code(202)
          .header('location', `/orders/${outcome.orderId}`)
          .send({ orderId: outcome.orderId, status: outcome.status });
      case 'overloaded':
        // Answered here, not thrown: the error handler logs every 5xx, and shedding is
        // logged once a second by admission control instead.
        return reply
          .code(503)
          .header('retry-after', String(outcome.retryAfterSec))
          .send({ error: OVERLOADED, code: 'OVERLOADED' satisfies ErrorCode });
      case 'key-conflict':
        throw new ApiError(422, { error: 'Idempotency-Key was used with a different body' });
      case 'unrecorded':
        throw unavailable('order could not be recorded; nothing was accepted', {}, outcome.cause);
      case 'unpublished':
        throw unavailable(PUBLISH_FAILED, { orderId: outcome.orderId }, outcome.cause);
    }
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

  app.get('/orders/:orderId', { onRequest: users.requireUser }, async (request, reply) => {
    const { orderId } = parseOr400(OrderParams, request.params, 'invalid orderId');
    const { wait } = parseOr400(OrderQuery, request.query, 'invalid query', 'query');
    let view = users.on || wait === undefined ? await fromStore(() => store.getOrder(orderId)) : null;
    // With users authenticated, another user's order answers as an unknown one does, and as
    // soon: a long-poll on it is not held, so the time to answer tells nothing either.
    const subject = users.subject(request);
    if (subject !== null && view?.userId !== subject) throw notFound('order');
    if (wait !== undefined) {
      // A held answer takes one of the client's MAX_WAITS_PER_CLIENT slots until it goes out.
      const release = wait ? waits.take(request.ip) : () => {};
      view = await longPolls.wait(orderId, wait, reply.raw).finally(release);
    }
    if (view === null) throw notFound('order');
    return reply.send(view);
  });
};
