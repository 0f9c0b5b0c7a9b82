/**
 * Role launcher: `tsx src/main.ts <api|stock|order|payment|all>`. Only wiring: read the
 * config, open the HTTP port, start the system (waiting for services that are away),
 * stop cleanly on SIGINT/SIGTERM. A bad env variable or a port that is taken stops
 * start-up with one line naming it (exit 2); a service that is away never does.
 */
import { loadConfig, type Config } from './config.ts';
import { AppError, ConfigError } from './errors.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { systemClock } from './clock.ts';
import { openDoor, PortUnavailableError, type Door } from './api/door.ts';
import { buildOpsServer } from './api/ops-server.ts';
import { buildStartingServer } from './api/starting.ts';
import { Readiness } from './readiness.ts';
import { Roles, startSystem, type Role, type System } from './system.ts';

/** `all`, one role, or several joined by commas (`stock,order,payment`). */
function parseRoles(arg: string | undefined): Role[] {
  if (arg === undefined || arg === 'all') return [...Roles];
  const names = arg.split(',');
  for (const name of names)
    if (!(Roles as readonly string[]).includes(name))
      throw new ConfigError(
        `Unknown role "${name}": expected one of ${Roles.join(', ')}, all, or roles joined by commas`,
      );
  if (new Set(names).size !== names.length) throw new ConfigError(`A role is named twice in "${arg}"`);
  return Roles.filter((r) => names.includes(r));
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

/**
 * The api listens on PORT; any other process on METRICS_PORT. Left unset, METRICS_PORT's
 * default may be taken by another role on the same host: then any free port, said aloud.
 */
async function openPort(
  config: Config,
  api: boolean,
  starting: Parameters<typeof openDoor>[0]['app'],
  logger: Logger,
): Promise<Door> {
  const host = config.host;
  const requestTimeoutMs = config.httpRequestTimeoutMs;
  if (api) return openDoor({ port: config.port, host, variable: 'PORT', app: starting, requestTimeoutMs });
  try {
    return await openDoor({
      port: config.metricsPort,
      host,
      variable: 'METRICS_PORT',
      app: starting,
      requestTimeoutMs,
    });
  } catch (err) {
    if (!(err instanceof PortUnavailableError) || config.metricsPortSet) throw err;
    const door = await openDoor({ port: 0, host, variable: 'METRICS_PORT', app: starting, requestTimeoutMs });
    logger.warn(
      { taken: config.metricsPort, port: door.port },
      `METRICS_PORT is not set and ${config.metricsPort} is taken; serving /metrics and /healthz on ${door.port} instead`,
    );
    return door;
  }
}

async function main(): Promise<void> {
  const roles = parseRoles(process.argv[2]);
  const config = loadConfig();
  const api = roles.includes('api');
  const logger = createLogger(config.logLevel);
  const metrics = createMetrics({ defaultMetrics: true });
  const readiness = new Readiness();
  const door = await openPort(config, api, await buildStartingServer({ readiness, metrics }), logger);
  const mode = `roles=${roles.join(',')} broker=${config.broker} store=${config.store}`;
  process.stdout.write(
    `  order saga is starting (${mode}) on ${door.url}  (/healthz answers 503 until its store and broker answer)\n`,
  );

  const abort = new AbortController();
  let starting: Promise<System> | null = null;
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
    abort.abort(new Error(`${signal} while starting`));
    void (async () => {
      await door.close();
      const system = await starting?.catch(() => null);
      await system?.close();
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  starting = startSystem({ config, roles, logger, metrics, readiness, signal: abort.signal });
  const system = await starting.catch((err: unknown) => {
    if (stopping) return null; // stop() exits once everything is closed
    throw err;
  });
  if (!system || stopping) return;
  await door.serve(
    system.api ?? (await buildOpsServer({ ...system, clock: systemClock, health: async () => ({ roles }) })),
  );
  process.stdout.write(`${banner(config, roles, door.url, api)}\n`);
  logger.info(
    { roles, url: door.url, broker: config.broker, store: config.store },
    api ? 'api listening' : 'metrics listening',
  );
}

main().catch((err: unknown) => {
  // A configuration error (a bad variable, a taken port) is one line and exit 2; anything else is fatal.
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const line = err instanceof AppError ? `${err.code}: ${err.message}` : String((err as Error)?.stack ?? err);
  process.stderr.write(`fatal: ${line}\n`);
  process.exit(1);
});
