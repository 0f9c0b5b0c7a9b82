/**
 * GET /viz (the live statechart page), GET /viz/diagram.svg, and GET /viz/events: a
 * text/event-stream of `store.statusCounts()`, sent on connect and every 500 ms while
 * anyone listens. One shared ticker reads the store for every client; the streams are
 * ended in preClose so app.close() does not wait on them.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { diagramSvg, renderPage } from '../../viz/page.ts';
import type { RouteOptions } from '../deps.ts';

export const VIZ_TICK_MS = 500;

// Only what the page needs from this origin; nothing may load from anywhere else.
const CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:";

export const vizRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps }) => {
  const { store, clock } = deps;
  const clients = new Set<ServerResponse>();
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
      const f = await frame();
      for (const res of clients) res.write(f);
    } finally {
      ticking = false;
    }
  };

  const drop = (res: ServerResponse) => {
    clients.delete(res);
    if (clients.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  app.addHook('preClose', async () => {
    for (const res of [...clients]) {
      res.end();
      drop(res);
    }
  });

  app.get('/viz', async (_request, reply) => {
    const page = renderPage(await diagramSvg());
    return reply.type('text/html; charset=utf-8').header('content-security-policy', CSP).send(page);
  });

  app.get('/viz/diagram.svg', async (_request, reply) =>
    reply.type('image/svg+xml; charset=utf-8').send(await diagramSvg()),
  );

  app.get('/viz/events', async (_request, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n`);
    clients.add(res);
    // The response's close, not the request's: a request closes as soon as its body is read.
    res.once('close', () => drop(res));
    timer ??= setInterval(() => void tick(), VIZ_TICK_MS).unref();
    const first = await frame();
    if (clients.has(res)) res.write(first);
  });
};
