/**
 * A black-box client of the HTTP contract: real HTTP to a running system, nothing
 * imported from src/. Also starts `tsx src/main.ts` as a child process for the suites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

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

  async request<T = any>(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
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
  async placeOrder(userId: string, items: { productId: string; quantity: number }[], key: string = crypto.randomUUID()): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.request('POST', '/orders', { body: { userId, items }, headers: { 'idempotency-key': key } });
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
  stop(): Promise<number | null>;
}

/** Starts `tsx src/main.ts <role>` on a free port and resolves once it prints its URL. */
export async function startProcess(env: Record<string, string>, role = 'all'): Promise<RunningProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    env: { ...process.env, PORT: '0', METRICS_PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`process exited (${code}) before it was up: ${stderr.join('\n')}`));
    child.once('exit', onExit);
    lines.on('line', (line) => {
      const m = /is up .* on (http:\/\/\S+)/.exec(line);
      if (m) {
        child.off('exit', onExit);
        resolve(m[1]!);
      }
    });
  });
  return {
    url,
    child,
    stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}
