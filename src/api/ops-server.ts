/** /metrics and /healthz for a process without the api role (on METRICS_PORT). */
import Fastify, { type FastifyInstance } from 'fastify';
import { errorHandler, notFoundHandler } from './errors.ts';
import { opsRoutes, type OpsDeps } from './routes/ops.ts';

export async function buildOpsServer(deps: OpsDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(opsRoutes, { deps });
  return app;
}
