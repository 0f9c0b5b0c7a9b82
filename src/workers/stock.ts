/**
 * The stock worker: reserve on order.start, release on stock.rollback. Both are
 * idempotent by orderId in the store; a redelivered command repeats its recorded reply.
 * Each is checked against the stored order (./require-order.ts): a reserve in the same
 * store call as its effect, a release before it.
 * Replies join the command's trace.
 */
import { dispatch } from '../messaging/dispatch.ts';
import type { Subscription } from '../ports/broker.ts';
import { clipText } from '../schemas.ts';
import { message, Subscriptions, Topics } from '../topics.ts';
import { effectThenReply } from './locked-reply.ts';
import { replyContext } from './reply.ts';
import { productLock } from './lock-names.ts';
import { checkedOutcome, orderToUndo, reserveCheck } from './require-order.ts';
import type { WorkerDeps } from './deps.ts';

export async function startStockWorker(deps: WorkerDeps): Promise<Subscription> {
  const { store, broker, logger } = deps;
  return broker.subscribe({
    group: deps.group,
    topics: Subscriptions.stock,
    handler: dispatch(
      {
        [Topics.orderStart]: async (command, delivery) => {
          const reply = replyContext(logger, delivery);
          // The order's own items: the reserve runs only if the stored order has exactly
          // these lines, checked in the same store call (rule `idempotent-effects`, docs/architecture.md).
          const check = reserveCheck(command);
          const { orderId, items } = check;
          const outcome = await effectThenReply(
            deps,
            items.map((i) => productLock(i.productId)),
            async () => checkedOutcome(Topics.orderStart, check, await store.reserveChecked(check)),
            (done) => [
              done.ok
                ? message(Topics.stockSuccess, { orderId, items }, reply.headers)
                : message(
                    Topics.stockFailed,
                    { orderId, code: done.code, message: clipText(done.message) },
                    reply.headers,
                  ),
            ],
          );
          reply.handled({ ok: outcome.ok, ...(outcome.ok ? {} : { code: outcome.code }) }, 'stock reserve handled');
        },
        [Topics.stockRollback]: async (command, delivery) => {
          const reply = replyContext(logger, delivery);
          const { orderId, items } = await orderToUndo(store, Topics.stockRollback, command);
          await effectThenReply(
            deps,
            items.map((i) => productLock(i.productId)),
            () => store.release(orderId, items),
            () => [message(Topics.stockReleased, { orderId }, reply.headers)],
          );
          reply.handled({}, 'stock release handled');
        },
      },
      deps,
    ),
  });
}
