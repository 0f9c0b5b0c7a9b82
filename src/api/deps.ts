/** What the api role is built from: ports, time, observability and the few settings it reads. */
import type { Clock } from '../clock.ts';
import type { UserAuthConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';
import type { BackoffPolicy } from '../retry.ts';
import type { UserAuth } from './auth.ts';
import type { ClientWaits } from './client-waits.ts';

export interface ApiDeps {
  store: Store;
  broker: Broker;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** POST /orders allowed per second per client address; 0 = off. */
  rateLimitPerSec: number;
  /** HTTP_REQUEST_TIMEOUT_MS: headers and body must arrive within it, else 408. Default 10 s. */
  requestTimeoutMs?: number;
  /** MAX_WAITS_PER_CLIENT: open long-polls plus /viz/events streams per client address; 0 = no cap. Default 16. */
  maxWaitsPerClient?: number;
  /** Unread bytes after which a /viz/events client is dropped; default SSE_BUFFER_LIMIT_BYTES. */
  sseBufferLimitBytes?: number;
  /** Bearer token for /admin/*; unset => /admin/* answers 403. */
  adminToken: string | undefined;
  /** How users are authenticated on the order and user routes; absent or null: they are not. */
  userAuth?: UserAuthConfig | null;
  stepTimeoutMs: number;
  /** Admission control's cap on orders in flight (MAX_IN_FLIGHT); 0 or absent = off. */
  maxInFlight?: number;
  compensationRetry: BackoffPolicy;
  /** Default crypto.randomUUID(). */
  newOrderId?: () => string;
  /** Extra fields for /healthz. */
  health?: () => Promise<Record<string, unknown>>;
}

export interface RouteOptions {
  deps: ApiDeps;
}

/** For the routes that serve one user's data: the one UserAuth of the app (one JWKS cache). */
export interface UserRouteOptions extends RouteOptions {
  users: UserAuth;
}

/** For the routes that hold requests open: the per-client slots they share. */
export interface WaitingRouteOptions extends RouteOptions {
  waits: ClientWaits;
}
