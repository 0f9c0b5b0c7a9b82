/**
 * The payment worker: charge on payment.request, refund on payment.refund, serialized
 * per user; idempotent by orderId in the store, refusals remembered.
 */
import { dispatch } from '../messaging/consumer.ts';
import type { Subscription } from '../ports/broker.ts';
import { message, Subscriptions, Topics } from '../topics.ts';
import type { WorkerDeps } from './deps.ts';
import { requireOrder, userLock } from './guards.ts';

export async function startPaymentWorker(deps: WorkerDeps): Promise<Subscription> {
  const { store, broker } = deps;
  return broker.subscribe({
    group: deps.group,
    topics: Subscriptions.payment,
    handler: dispatch(
      {
        [Topics.paymentRequest]: async ({ orderId, userId, amount }) => {
          await requireOrder(store, orderId);
          const outcome = await store.withLocks([userLock(userId)], () => store.charge(orderId, userId, amount));
          await broker.publish([
            outcome.ok
              ? message(Topics.paymentSuccess, { orderId })
              : message(Topics.paymentFailed, { orderId, code: outcome.code, message: outcome.message }),
          ]);
        },
        [Topics.paymentRefund]: async ({ orderId, userId }) => {
          await requireOrder(store, orderId);
          await store.withLocks([userLock(userId)], () => store.refund(orderId, userId));
          await broker.publish([message(Topics.paymentRefunded, { orderId })]);
        },
      },
      deps,
    ),
  });
}
