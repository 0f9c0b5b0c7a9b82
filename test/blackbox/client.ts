/**
 * A black-box client of the HTTP contract: real HTTP to a running system, nothing
 * imported from src/. Also starts `tsx src/main.ts` as a child process for the suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Recorder } from '../helpers/wait.ts';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class Client {
  constructor(
    readonly url: string,
    private readonly adminToken?: string,
  ) {}

  async request<T = any>(
    method: string,
    path: string,
    opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${this.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep text (e.g. /metrics)
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  admin(path: string, body: unknown): Promise<Reply> {
    return this.request('PUT', `/admin${path}`, { body, headers: { authorization: `Bearer ${this.adminToken}` } });
  }

  /**
   * Places an order the way a careful client does: with an Idempotency-Key, retrying a
   * 503 with the same key and body (the contract's recovery path). Returns the orderId.
   */
  async placeOrder(
    userId: string,
    items: { productId: string; quantity: number }[],
    key: string = crypto.randomUUID(),
  ): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.request('POST', '/orders', {
        body: { userId, items },
        headers: { 'idempotency-key': key },
      });
      if (res.status === 202) return res.body.orderId as string;
      if (res.status !== 503 || attempt >= 10) {
        throw new Error(`POST /orders answered ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
  }

  /** Long-polls until the order is terminal (the contract's ?wait=), at most `limitMs` in all. */
  async awaitTerminal(orderId: string, limitMs = 60_000): Promise<any> {
    const started = Date.now();
    for (;;) {
      const res = await this.request('GET', `/orders/${orderId}?wait=${Math.min(30_000, limitMs)}`);
      if (res.status !== 200) throw new Error(`GET /orders/${orderId} answered ${res.status}`);
      if (['COMPLETED', 'REJECTED', 'CANCELLED'].includes(res.body.status)) return res.body;
      if (Date.now() - started > limitMs) return res.body;
    }
  }
}

export interface RunningProcess {
  url: string;
  child: ChildProcess;
  stderr: string[];
  /** Every stdout line so far (pino's JSON lines and the banners); a test can wait on one. */
  stdout: Recorder<string>;
  stop(): Promise<number | null>;
}

/** The line a process prints once it serves (`up`), or as soon as its port is open (`starting`). */
const Banners = { up: /is up .* on (http:\/\/\S+)/, starting: /is starting .* on (http:\/\/\S+)/ };

/** Starts `tsx src/main.ts <role>` on a free port and resolves once it prints its URL. */
export async function startProcess(
  env: Record<string, string>,
  role = 'all',
  until: keyof typeof Banners = 'up',
): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    // The suites' one client stands for many customers and long-polls hundreds of orders at
    // once, so the per-client cap on open waits is off unless a test sets it.
    env: { ...process.env, PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'warn', MAX_WAITS_PER_CLIENT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  const stdout = new Recorder<string>();
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  createInterface({ input: child.stdout! }).on('line', (l) => stdout.push(l));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before it was up: ${stderr.join('\n')}`))),
  );
  exited.catch(() => undefined);
  const banner = stdout.until(
    (lines) => lines.some((l) => Banners[until].test(l)),
    `${role} to print that it is ${until}`,
    120_000,
  );
  const lines = await Promise.race([banner, exited]);
  const url = Banners[until].exec(lines.find((l) => Banners[until].test(l))!)![1]!;
  return {
    url,
    child,
    stderr,
    stdout,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}
