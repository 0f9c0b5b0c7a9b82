/**
 * `INSPECT=1`: reports every order to the Stately inspector (@statelyai/inspect). The
 * host steps persisted snapshots with the pure transition(), so there is no live actor to
 * attach an inspector to; instead each committed transition is reported by hand: the
 * order's registration (first time this process sees it, with the machine definition),
 * the event, and the new snapshot. The package is imported only when this is built.
 */
import { orderMachine } from '../../machines/order.machine.ts';
import type { Logger } from '../log.ts';
import type { SagaInspector } from '../saga/inspector.ts';

/** The part of @statelyai/inspect's Inspector that this uses. */
export interface InspectorLike {
  actor(actor: object | string, snapshot?: object): void;
  event(actor: object | string, event: { type: string }): void;
  snapshot(actor: object | string, snapshot: object, info?: { event?: { type: string } }): void;
  stop(): void;
}

export interface InspectOptions {
  logger: Logger;
  /** A WebSocket inspector server (createWebSocketInspector); unset: Stately Sky, which needs the internet. */
  url?: string;
}

/** Wraps any inspector; one that throws is logged and ignored, never failing the saga. */
export function sagaInspector(inspector: InspectorLike, logger: Logger): SagaInspector {
  const known = new Set<string>();
  let warned = false;
  return {
    onTransition(orderId, event, snapshot) {
      try {
        // inspect reads `logic.config` off an actor-like object for the definition.
        const ref = { sessionId: orderId, id: orderId, logic: orderMachine };
        const inspected = {
          status: snapshot.status,
          value: snapshot.value,
          context: snapshot.context,
          output: snapshot.output,
        };
        if (!known.has(orderId)) {
          if (known.size >= 10_000) known.clear(); // orders finished elsewhere must not pile up
          known.add(orderId);
          inspector.actor(ref, inspected);
        }
        inspector.event(ref, event);
        inspector.snapshot(ref, inspected, { event });
        if (snapshot.status === 'done') known.delete(orderId);
      } catch (err) {
        if (!warned) logger.warn({ err, orderId }, 'inspector failed; inspection continues best-effort');
        warned = true;
      }
    },
    stop: () => inspector.stop(),
  };
}

export async function createSagaInspector(opts: InspectOptions): Promise<SagaInspector> {
  const inspect = await import('@statelyai/inspect');
  const { logger } = opts;
  if (opts.url) {
    logger.info({ url: opts.url }, 'Stately inspector: sending to a WebSocket inspector');
    return sagaInspector(inspect.createWebSocketInspector({ url: opts.url }), logger);
  }
  let reported = false;
  const sky = inspect.createSkyInspector({
    onerror: (err) => {
      if (!reported)
        logger.warn(
          { err: (err as { message?: string }).message ?? String(err) },
          'Stately Sky inspector unreachable (it needs the internet); orders run on',
        );
      reported = true;
    },
  });
  logger.info('Stately inspector: Stately Sky prints its live URL once connected');
  return sagaInspector(sky, logger);
}
