/**
 * The process's one listening HTTP server. It opens before the role has reached its
 * store and broker and hands every request to whichever Fastify app is current: first
 * the starting server (503s), then the api or the ops server. So the port is taken, and
 * a taken port reported, at the first moment, and it never closes in between.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../errors.ts';
import { clientErrorHandler, requestTimeouts } from './http-limits.ts';

/** The port in `variable` could not be bound; one line naming the variable and the way out. */
export class PortUnavailableError extends ConfigError {
  constructor(
    readonly variable: string,
    readonly port: number,
    host: string,
    reason: string,
  ) {
    super(`${variable}=${port}: ${host}:${port} ${reason}; set ${variable} to a free port (0 picks one)`);
  }
}

export interface Door {
  readonly port: number;
  readonly url: string;
  /** From now on `app` answers every request. */
  serve(app: FastifyInstance): Promise<void>;
  /** Stops accepting, closes the current app (its preClose hooks end held requests), waits for what is in flight. */
  close(): Promise<void>;
}

const reasons: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'may not be bound by this user',
  EADDRNOTAVAIL: 'is not an address of this machine',
};

function listen(server: Server, port: number, host: string, variable: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const reason = err.code ? reasons[err.code] : undefined;
      reject(reason ? new PortUnavailableError(variable, port, host, reason) : err);
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

export async function openDoor(opts: {
  port: number;
  host: string;
  variable: string;
  app: FastifyInstance;
  /** HTTP_REQUEST_TIMEOUT_MS: headers and body within it, else 408 and the connection closes. */
  requestTimeoutMs: number;
}): Promise<Door> {
  let current = opts.app;
  await current.ready();
  // The port's own limits, the same whichever app is current (the starting server included):
  // a request that does not arrive in time is answered here, before any app sees it.
  const server = createServer(
    requestTimeouts(opts.requestTimeoutMs),
    (req: IncomingMessage, res: ServerResponse) => void current.server.emit('request', req, res),
  );
  server.on('clientError', clientErrorHandler(opts.requestTimeoutMs));
  await listen(server, opts.port, opts.host, opts.variable);
  const { port } = server.address() as AddressInfo;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | null = null;

  return {
    port,
    url: `http://${host === '[::1]' ? 'localhost' : host}:${port}`,
    async serve(app) {
      await app.ready();
      // The app's own (never listening) server carries its keep-alive; the door takes it over.
      // Request and header timeouts stay the door's own (HTTP_REQUEST_TIMEOUT_MS).
      server.keepAliveTimeout = app.server.keepAliveTimeout;
      const previous = current;
      current = app;
      if (previous !== app) await previous.close();
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await current.close();
        server.closeIdleConnections();
        await closed;
      })();
      return closing;
    },
  };
}
