/**
 * The api role as a Fastify instance, not listening (the caller listens). Each concern
 * is an encapsulated plugin; the error handler, the not-found handler and the request
 * counter sit at the root so every plugin shares them.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { createUserAuth } from './auth.ts';
import type { ApiDeps } from './deps.ts';
import { createClientWaits, DEFAULT_MAX_WAITS_PER_CLIENT } from './client-waits.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { clientErrorHandler, DEFAULT_REQUEST_TIMEOUT_MS, requestTimeouts } from './http-limits.ts';
import { adminRoutes } from './routes/admin.ts';
import { catalogueRoutes } from './routes/catalogue.ts';
import { opsRoutes } from './routes/ops.ts';
import { ordersRoutes } from './routes/orders.ts';
import { vizRoutes } from './routes/viz.ts';

export type { ApiDeps } from './deps.ts';

export const BODY_LIMIT_BYTES = 64 * 1024;

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const requestTimeoutMs = deps.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; widening it keeps the instance type plain.
    loggerInstance: deps.logger as FastifyBaseLogger,
    // One debug line per request from our onResponse hook instead of Fastify's two info lines.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Headers and body within HTTP_REQUEST_TIMEOUT_MS, or 408 and the connection closes (when
    // this app listens itself; the door applies the same to the port it owns).
    http: requestTimeouts(requestTimeoutMs),
    requestTimeout: requestTimeoutMs,
    clientErrorHandler: clientErrorHandler(requestTimeoutMs),
  });

  // Bodies are JSON or nothing: without the text/plain parser, anything else is a 415.
  app.removeContentTypeParser('text/plain');
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, method: request.method, code: String(reply.statusCode) });
    request.log.debug(
      { method: request.method, url: request.url, status: reply.statusCode, ms: reply.elapsedTime },
      'request',
    );
  });

  await app.register(opsRoutes, { deps });
  const users = createUserAuth(deps.userAuth ?? null, deps.clock);
  await app.register(catalogueRoutes, { deps, users });
  // Long-polls and /viz/events streams count against one MAX_WAITS_PER_CLIENT per client.
  const waits = createClientWaits(deps.maxWaitsPerClient ?? DEFAULT_MAX_WAITS_PER_CLIENT);
  await app.register(ordersRoutes, { deps, users, waits });
  await app.register(adminRoutes, { deps, prefix: '/admin' });
  await app.register(vizRoutes, { deps, waits });
  return app;
}
