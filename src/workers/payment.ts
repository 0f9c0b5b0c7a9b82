/**
 * The payment worker: charge on payment.request, refund on payment.refund, serialized
 * per user; idempotent by orderId in the store, refusals remembered. Replies join the
 * command's trace. Each is checked against the stored order (./require-order.ts): a charge
 * in the same store call as its effect, a refund before it.
 */
import { dispatch } from '../messaging/dispatch.ts';
import type { Subscription } from '../ports/broker.ts';
import { clipText } from '../schemas.ts';
import { message, Subscriptions, Topics } from '../topics.ts';
import { effectThenReply } from './locked-reply.ts';
import { replyContext } from './reply.ts';
import type { WorkerDeps } from './deps.ts';
import { userLock } from './lock-names.ts';
import { chargeCheck, checkedOutcome, orderToUndo } from './require-order.ts';

export async function startPaymentWorker(deps: WorkerDeps): Promise<Subscription> {
  const { store, broker, logger } = deps;
  return broker.subscribe({
    group: deps.group,
    topics: Subscriptions.payment,
    handler: dispatch(
      {
        [Topics.paymentRequest]: async (command, delivery) => {
          const reply = replyContext(logger, delivery);
          // The order's total, for the order's user: the charge runs only if the stored
          // order says so, checked in the same store call (rule `idempotent-effects`, docs/architecture.md).
          const check = chargeCheck(command);
          const { orderId, userId, totalPrice: amount } = check;
          const outcome = await effectThenReply(
            deps,
            [userLock(userId)],
            async () => checkedOutcome(Topics.paymentRequest, check, await store.chargeChecked(check)),
            (done) => [
              done.ok
                ? message(Topics.paymentSuccess, { orderId }, reply.headers)
                : message(
                    Topics.paymentFailed,
                    { orderId, code: done.code, message: clipText(done.message) },
                    reply.headers,
                  ),
            ],
          );
          reply.handled(
            { ok: outcome.ok, amount, ...(outcome.ok ? {} : { code: outcome.code }) },
            'payment charge handled',
          );
        },
        [Topics.paymentRefund]: async (command, delivery) => {
          const reply = replyContext(logger, delivery);
          const { orderId, userId } = await orderToUndo(store, Topics.paymentRefund, command);
          await effectThenReply(
            deps,
            [userLock(userId)],
            () => store.refund(orderId, userId),
            () => [message(Topics.paymentRefunded, { orderId }, reply.headers)],
          );
          reply.handled({}, 'payment refund handled');
        },
      },
      deps,
    ),
  });
}
