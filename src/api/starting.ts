/**
 * What the HTTP port answers while the role is still reaching its store and broker: it
 * listens from the first moment, so an orchestrator sees a 503 with the reason, not a
 * refused connection, and nothing is recorded until the role can carry an order through.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.ts';
import type { Readiness } from '../readiness.ts';

export async function buildStartingServer(deps: { readiness: Readiness; metrics: Metrics }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const waitingFor = (): string[] => deps.readiness.waitingFor();

  app.get('/healthz', async (_request, reply) =>
    reply.code(503).send({ status: 'starting', waitingFor: waitingFor() }),
  );
  app.get('/metrics', async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
  app.setNotFoundHandler(async (_request, reply) => {
    const what = waitingFor();
    const error = what.length > 0 ? `starting: waiting for ${what.join(' and ')}` : 'starting';
    return reply.code(503).header('retry-after', '1').send({ error });
  });
  return app;
}
