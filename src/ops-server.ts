/** /metrics and /healthz for a process without the api role (METRICS_PORT). */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';
import type { Broker } from './ports/broker.ts';
import type { Store } from './ports/store.ts';

export function buildOpsServer(deps: { store: Store; broker: Broker; metrics: Metrics; roles: readonly string[] }): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => {
    try {
      await Promise.all([deps.store.ping(), deps.broker.ping()]);
      return { status: 'ok', roles: deps.roles };
    } catch (err) {
      return reply.code(503).send({ status: 'unavailable', error: (err as Error).message });
    }
  });
  app.get('/metrics', async (_req, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));
  return app;
}
