/**
 * End to end through the HTTP API of a running system: seed through /admin, POST /orders
 * (with an Idempotency-Key, retrying a 503 or a lost connection with the same key, as the
 * contract's careful client does; a 503 OVERLOADED is admission control shedding load, and
 * is handed back to the runner as shed instead), then follow each order with the GET /orders/{id}?wait=
 * long-poll. undici pools with keep-alive: one for the POSTs, one for the long-polls, so a
 * held long-poll never delays a POST.
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';
import { backoffDelay, type BackoffPolicy } from '../retry.ts';
import {
  mapLimit,
  TerminalStatuses,
  type Driver,
  type OrderRequest,
  type Placed,
  type Shed,
  type Terminal,
  type TerminalStatus,
} from './driver.ts';

export interface HttpDriverOptions {
  target: string;
  adminToken: string;
  /** Connections per pool; null is unbounded (the open loop: as many as orders in flight). */
  connections: number | null;
  env?: Record<string, string | undefined>;
  warn?: (line: string) => void;
}

/**
 * How long a POST is retried (same Idempotency-Key) through refused connections and
 * 503s other than OVERLOADED: long enough to ride out a restarted api or a broker away
 * for a while, as a careful client would; an order given up on counts as an error.
 */
const POST_RETRY_MS = 60_000;
const LONG_POLL_MS = 30_000;
const SEED_PARALLEL = 32;

interface Reply {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

/** Retry-After in whole seconds (the api's form); anything else counts as 1 s. */
function retryAfterMs(header: string | string[] | undefined): number {
  const raw = Array.isArray(header) ? header[0] : header;
  return raw !== undefined && /^\d{1,6}$/.test(raw.trim()) ? Number(raw.trim()) * 1000 : 1000;
}

/** Between a careful client's attempts: 50 ms, doubling, at most 1 s. */
const ClientRetry: BackoffPolicy = { initialMs: 50, maxMs: 1_000, factor: 2 };
const retryDelay = (attempt: number): number => backoffDelay(ClientRetry, attempt);

export async function createHttpDriver(opts: HttpDriverOptions): Promise<Driver> {
  const { target, adminToken } = opts;
  const env = opts.env ?? process.env;
  const warned = new Set<string>();
  const warnOnce = (kind: string, line: string): void => {
    if (warned.has(kind)) return;
    warned.add(kind);
    (opts.warn ?? ((l: string) => process.stderr.write(`${l}\n`)))(line);
  };
  const pool = (connections: number | null) =>
    new Pool(target, { connections, keepAliveTimeout: 60_000, headersTimeout: LONG_POLL_MS + 30_000 });
  const posts = pool(opts.connections);
  const polls = pool(opts.connections);
  /** Aborted by abandon(); replaced then, so orders placed later are followed again. */
  let stop = new AbortController();
  setMaxListeners(0, stop.signal);

  async function call(
    p: Pool,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Reply> {
    const res = await p.request({
      method,
      path,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal ? { signal } : {}),
    });
    const text = await res.body.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text for the error message
    }
    return { status: res.statusCode, body: parsed, headers: res.headers };
  }

  async function admin(path: string, body: unknown): Promise<void> {
    const res = await call(posts, 'PUT', `/admin${path}`, body, { authorization: `Bearer ${adminToken}` });
    if (res.status === 200) return;
    const hint =
      res.status === 401
        ? ' (ADMIN_TOKEN does not match the server)'
        : res.status === 403
          ? ' (the server has no ADMIN_TOKEN set)'
          : '';
    throw new Error(`PUT /admin${path} answered ${res.status}${hint}: ${JSON.stringify(res.body)}`);
  }

  async function post(order: OrderRequest): Promise<string | Shed> {
    const body = { userId: order.userId, items: order.items };
    const headers = { 'idempotency-key': order.key };
    const giveUpAt = performance.now() + POST_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      let res: Reply;
      try {
        res = await call(posts, 'POST', '/orders', body, headers);
      } catch (err) {
        if (performance.now() >= giveUpAt)
          throw new Error(
            `POST /orders failed ${attempt} times over ${POST_RETRY_MS / 1000} s: ${(err as Error).message}`,
            { cause: err },
          );
        warnOnce(
          'post-error',
          `load: POST /orders failed (${(err as Error).message}); retrying with the same Idempotency-Key`,
        );
        await delay(retryDelay(attempt));
        continue;
      }
      if (res.status === 202 && typeof res.body?.orderId === 'string') return res.body.orderId as string;
      if (res.status === 503 && res.body?.code === 'OVERLOADED')
        return { shed: true, retryAfterMs: retryAfterMs(res.headers['retry-after']) };
      if ((res.status === 503 || res.status === 429) && performance.now() < giveUpAt) {
        warnOnce(
          `post-${res.status}`,
          `load: POST /orders answered ${res.status}; retrying with the same Idempotency-Key`,
        );
        await delay(retryDelay(attempt));
        continue;
      }
      const hint =
        res.status === 401
          ? ' (the target authenticates users: AUTH_JWT_SECRET or AUTH_JWKS_URL is set, and the load generator sends no user tokens)'
          : '';
      throw new Error(`POST /orders answered ${res.status}${hint} ${JSON.stringify(res.body)}`);
    }
  }

  async function follow(orderId: string): Promise<Terminal | null> {
    const { signal } = stop;
    for (let failures = 0; !signal.aborted;) {
      try {
        const res = await call(polls, 'GET', `/orders/${orderId}?wait=${LONG_POLL_MS}`, undefined, {}, signal);
        if (res.status === 200 && TerminalStatuses.has(res.body?.status)) {
          return {
            status: res.body.status as TerminalStatus,
            ...(typeof res.body.totalPrice === 'number' ? { totalPrice: res.body.totalPrice as number } : {}),
            ...(typeof res.body.reason?.code === 'string' ? { reasonCode: res.body.reason.code as string } : {}),
            at: performance.now(),
          };
        }
        if (res.status === 200) continue; // not terminal yet: poll again
        if (res.status === 429) {
          // The server caps open long-polls per client; this one client follows every order in flight.
          warnOnce(
            'poll-429',
            'load: GET /orders/{id}?wait= answered 429: the server caps open long-polls per client; start it with MAX_WAITS_PER_CLIENT=0 for a load test',
          );
        }
        if (res.status === 404) {
          warnOnce('poll-404', `load: GET /orders/${orderId} answered 404 after a 202 (counted as stuck)`);
          return null;
        }
        throw new Error(`answered ${res.status} ${JSON.stringify(res.body)}`);
      } catch (err) {
        if (signal.aborted) return null;
        warnOnce('poll-error', `load: GET /orders/{id}?wait= failed (${(err as Error).message}); retrying`);
        await delay(retryDelay(++failures), undefined, { signal }).catch(() => undefined);
      }
    }
    return null;
  }

  async function read(path: string, field: string): Promise<number | null> {
    const res = await call(posts, 'GET', path);
    if (res.status === 404) return null;
    if (res.status !== 200 || typeof res.body?.[field] !== 'number')
      throw new Error(`GET ${path} answered ${res.status} ${JSON.stringify(res.body)}`);
    return res.body[field] as number;
  }

  return {
    mode: 'http',
    async describe() {
      let res: Reply;
      try {
        res = await call(posts, 'GET', '/healthz');
      } catch (err) {
        throw new Error(`cannot reach ${target}: ${(err as Error).message}`, { cause: err });
      }
      if (res.status !== 200) throw new Error(`${target}/healthz answered ${res.status} ${JSON.stringify(res.body)}`);
      const fallback = (name: string) => env[name]?.trim() || 'unknown';
      return {
        broker: typeof res.body?.broker === 'string' ? res.body.broker : fallback('BROKER'),
        store: typeof res.body?.store === 'string' ? res.body.store : fallback('STORE'),
      };
    },
    async seed(catalogue) {
      await mapLimit(catalogue.products, SEED_PARALLEL, (p) =>
        admin(`/products/${p.productId}`, { stock: p.stock, price: p.price }),
      );
      await mapLimit(catalogue.users, SEED_PARALLEL, (u) => admin(`/users/${u.userId}`, { balance: u.balance }));
    },
    async place(order): Promise<Placed | Shed> {
      const orderId = await post(order);
      if (typeof orderId !== 'string') return orderId;
      return { orderId, terminal: follow(orderId) };
    },
    abandon() {
      stop.abort();
      stop = new AbortController();
      setMaxListeners(0, stop.signal);
    },
    stocks: (ids) => mapLimit(ids, SEED_PARALLEL, (id) => read(`/products/${id}`, 'stock')),
    balances: (ids) => mapLimit(ids, SEED_PARALLEL, (id) => read(`/users/${id}`, 'balance')),
    async close() {
      stop.abort();
      await Promise.all([posts.destroy(), polls.destroy()]);
    },
  };
}
