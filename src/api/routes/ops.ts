/** GET /healthz and GET /metrics. */
import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from '../deps.ts';

/** All /healthz and /metrics need, so a process without the api role serves them too. */
export type OpsDeps = Pick<ApiDeps, 'store' | 'broker' | 'metrics' | 'health'>;

/** A ping that hangs counts as unreachable. */
const PING_TIMEOUT_MS = 2_000;

class Unreachable extends Error {}

async function reachable(name: string, ping: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} ping timed out`)), PING_TIMEOUT_MS);
  });
  try {
    await Promise.race([ping(), timeout]);
  } catch (err) {
    throw new Unreachable(`${name} unreachable`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

export const opsRoutes: FastifyPluginAsync<{ deps: OpsDeps }> = async (app, { deps }) => {
  const { store, broker, metrics } = deps;

  app.get('/healthz', async (request, reply) => {
    try {
      await Promise.all([reachable('store', () => store.ping()), reachable('broker', () => broker.ping())]);
      const extra = deps.health ? await deps.health() : {};
      return reply.send({ ...extra, status: 'ok' });
    } catch (err) {
      request.log.warn({ err }, 'health check failed');
      const error = err instanceof Unreachable ? err.message : 'health check failed';
      return reply.code(503).send({ status: 'unavailable', error });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
