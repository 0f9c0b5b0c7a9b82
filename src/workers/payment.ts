/**
 * The payment worker: charge on payment.request, refund on payment.refund, serialized
 * per user; idempotent by orderId in the store, refusals remembered. Replies join the
 * command's trace.
 */
import { dispatch } from '../messaging/dispatch.ts';
import type { Subscription } from '../ports/broker.ts';
import { clipText } from '../schemas.ts';
import { message, Subscriptions, Topics } from '../topics.ts';
import { replyContext } from './reply.ts';
import type { WorkerDeps } from './deps.ts';
import { userLock } from './lock-names.ts';
import { requireOrder } from './require-order.ts';

export async function startPaymentWorker(deps: WorkerDeps): Promise<Subscription> {
  const { store, broker, logger } = deps;
  return broker.subscribe({
    group: deps.group,
    topics: Subscriptions.payment,
    handler: dispatch(
      {
        [Topics.paymentRequest]: async ({ orderId, userId, amount }, delivery) => {
          const reply = replyContext(logger, delivery);
          await requireOrder(store, orderId);
          const outcome = await store.withLocks([userLock(userId)], () => store.charge(orderId, userId, amount));
          await broker.publish([
            outcome.ok
              ? message(Topics.paymentSuccess, { orderId }, reply.headers)
              : message(
                  Topics.paymentFailed,
                  { orderId, code: outcome.code, message: clipText(outcome.message) },
                  reply.headers,
                ),
          ]);
          reply.handled(
            { ok: outcome.ok, amount, ...(outcome.ok ? {} : { code: outcome.code }) },
            'payment charge handled',
          );
        },
        [Topics.paymentRefund]: async ({ orderId, userId }, delivery) => {
          const reply = replyContext(logger, delivery);
          await requireOrder(store, orderId);
          await store.withLocks([userLock(userId)], () => store.refund(orderId, userId));
          await broker.publish([message(Topics.paymentRefunded, { orderId }, reply.headers)]);
          reply.handled({}, 'payment refund handled');
        },
      },
      deps,
    ),
  });
}
