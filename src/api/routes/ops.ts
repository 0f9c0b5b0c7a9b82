/** GET /healthz and GET /metrics. */
import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.ts';
import { cachedHealthCheck } from '../health-check.ts';

/** All /healthz and /metrics need, so a process without the api role serves them too. */
export type OpsDeps = Pick<ApiDeps, 'store' | 'broker' | 'metrics' | 'health' | 'clock'>;

export const opsRoutes: FastifyPluginAsync<{ deps: OpsDeps }> = async (app, { deps }) => {
  const { metrics } = deps;
  const health = cachedHealthCheck(deps);

  app.get('/healthz', async (_request, reply) => {
    const { unreachable } = await health.check();
    if (unreachable.length > 0) {
      return reply
        .code(503)
        .send({ status: 'unavailable', error: `${unreachable.join(' and ')} unreachable`, waitingFor: unreachable });
    }
    const extra = deps.health ? await deps.health() : {};
    return reply.send({ ...extra, status: 'ok' });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
