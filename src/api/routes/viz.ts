/**
 * GET /viz (the live statechart page), GET /viz/diagram.svg, and GET /viz/events: a
 * text/event-stream of `store.statusCounts()`, sent on connect and every 500 ms while
 * anyone listens. One shared ticker reads the store for every client; the streams are
 * ended in preClose so app.close() does not wait on them. Each stream holds one of its
 * client's MAX_WAITS_PER_CLIENT slots, and a client that stops reading is dropped (sse.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import { diagramSvg, renderPage } from '../../viz/page.ts';
import type { WaitingRouteOptions } from '../deps.ts';
import { createSseHub } from '../sse.ts';

export const VIZ_TICK_MS = 500;

// Only what the page needs from this origin; nothing may load from anywhere else.
const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

export const vizRoutes: FastifyPluginAsync<WaitingRouteOptions> = async (app, { deps, waits }) => {
  const { store, clock } = deps;
  const clients = createSseHub({
    ...(deps.sseBufferLimitBytes === undefined ? {} : { bufferLimitBytes: deps.sseBufferLimitBytes }),
    onDrop: (unread) => app.log.debug({ unread }, 'viz: dropped a client that does not read'),
  });
  let timer: NodeJS.Timeout | undefined;
  let ticking = false;

  const frame = async (): Promise<string> => {
    try {
      const counts = await store.statusCounts();
      return `data: ${JSON.stringify({ counts, at: new Date(clock.now()).toISOString() })}\n\n`;
    } catch (err) {
      app.log.debug({ err }, 'viz: status counts unavailable');
      return 'event: unavailable\ndata: {}\n\n';
    }
  };

  const tick = async () => {
    if (ticking) return; // a slow store skips a beat rather than piling up reads
    ticking = true;
    try {
      clients.broadcast(await frame());
    } finally {
      ticking = false;
    }
  };

  const stopIfIdle = () => {
    if (clients.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  app.addHook('preClose', async () => clients.endAll());

  app.get('/viz', async (_request, reply) => {
    const page = renderPage(await diagramSvg());
    return reply.type('text/html; charset=utf-8').header('content-security-policy', CSP).send(page);
  });

  app.get('/viz/diagram.svg', async (_request, reply) =>
    reply.type('image/svg+xml; charset=utf-8').send(await diagramSvg()),
  );

  app.get('/viz/events', async (request, reply) => {
    const release = waits.take(request.ip); // a 429 before anything is written
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n`);
    // The hub listens for the response's close, not the request's: a request closes as soon as its body is read.
    clients.add(res, () => {
      release();
      stopIfIdle();
    });
    timer ??= setInterval(() => void tick(), VIZ_TICK_MS).unref();
    clients.send(res, await frame());
  });
};
