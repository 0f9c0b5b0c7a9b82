/**
 * Role launcher: `tsx src/main.ts <api|stock|order|payment|all>`. Only wiring: read the
 * config, start the system, listen, stop cleanly on SIGINT/SIGTERM, exit non-zero on a
 * fatal error. A bad env variable stops start-up with one line naming it.
 */
import { loadConfig, type Config } from './config.ts';
import { AppError, ConfigError } from './errors.ts';
import { createLogger } from './log.ts';
import { buildOpsServer } from './api/ops-server.ts';
import { Roles, startSystem, type Role } from './system.ts';

function parseRoles(arg: string | undefined): Role[] {
  if (arg === undefined || arg === 'all') return [...Roles];
  if ((Roles as readonly string[]).includes(arg)) return [arg as Role];
  throw new ConfigError(`Unknown role "${arg}": expected one of ${Roles.join(', ')}, all`);
}

function banner(config: Config, roles: readonly Role[], url: string, api: boolean): string {
  const mode = `roles=${roles.join(',')} broker=${config.broker} store=${config.store}`;
  const up = `  order saga is up (${mode}) on ${url}`;
  if (!api) return `${up}  (GET /metrics, /healthz)`;
  return [
    '',
    up,
    '',
    '  place an order:',
    `    curl -s -X POST ${url}/orders -H 'content-type: application/json' \\`,
    `      -d '{"userId":"u1","items":[{"productId":"p1","quantity":2}]}'`,
    '  follow it (long-poll until it ends):',
    `    curl -s '${url}/orders/<orderId>?wait=5000'`,
    '  look around:',
    `    curl -s ${url}/products/p1   curl -s ${url}/users/u1   curl -s ${url}/metrics`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let config: Config;
  let roles: Role[];
  try {
    roles = parseRoles(process.argv[2]);
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel);
  const system = await startSystem({ config, roles, logger, defaultMetrics: true });
  const server = system.api ?? (await buildOpsServer({ ...system, health: async () => ({ roles }) }));
  const port = system.api ? config.port : config.metricsPort;
  const address = await server.listen({ port, host: config.host });
  const url = address.replace('[::1]', 'localhost');
  process.stdout.write(`${banner(config, roles, url, system.api !== null)}\n`);
  logger.info({ roles, url, broker: config.broker, store: config.store }, system.api ? 'api listening' : 'metrics listening');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    void (async () => {
      if (!system.api) await server.close();
      await system.close();
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  const line = err instanceof AppError ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err);
  process.stderr.write(`fatal: ${line}\n`);
  process.exit(1);
});
