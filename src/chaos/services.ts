/**
 * The services a chaos run owns: a Kafka broker of its own (scripts/kafka-local.sh on
 * another port and data folder, so the fault never touches a broker someone else uses)
 * and Redis instances started here, with AOF where a fault kills them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const root = new URL('../..', import.meta.url).pathname;

/** Resolves once something accepts TCP connections on the port, or rejects after `ms`. */
export async function waitForPort(port: number, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`${what} did not open 127.0.0.1:${port} within ${ms} ms`);
    await delay(100);
  }
}

export class LocalKafka {
  readonly brokers: string;
  private readonly env: NodeJS.ProcessEnv;
  constructor(
    readonly port: number,
    dataDir: string,
  ) {
    this.brokers = `127.0.0.1:${port}`;
    this.env = { ...process.env, KAFKA_PORT: String(port), KAFKA_LOCAL_DATA: dataDir };
  }
  private run(cmd: 'start' | 'stop' | 'reset'): void {
    const res = spawnSync('bash', [join(root, 'scripts/kafka-local.sh'), cmd], { env: this.env, encoding: 'utf8' });
    if (res.status !== 0) {
      const lines = (res.stderr || res.stdout).trim().split('\n');
      // the script's verdict is its last line; the broker's own reason is its last ERROR line
      const reason = lines.filter((l) => / (ERROR|FATAL) /.test(l)).pop();
      throw new Error(
        `kafka-local.sh ${cmd} on port ${this.port} failed: ${lines.pop()}${reason ? `\n  ${reason}` : ''}`,
      );
    }
  }
  /** Starts it (keeping its data, as a restarted broker does) and waits until it serves. */
  start(): void {
    this.run('start');
  }
  stop(): void {
    this.run('stop');
  }
  /** Stops it and deletes its data. */
  reset(): void {
    this.run('reset');
  }
}

/** One redis-server on a loopback port; AOF with appendfsync always when asked. */
export class LocalRedis {
  private child: ChildProcess | null = null;
  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly aof: boolean,
  ) {
    mkdirSync(dir, { recursive: true });
  }
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const persistence = this.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir, ...persistence],
      {
        stdio: 'ignore',
      },
    );
    await waitForPort(this.port, 10_000, `redis-server on ${this.port}`);
  }
  /** SIGKILL: no shutdown, no final fsync; what AOF (always) kept is what survives. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }
  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(sig);
    await exited;
  }
}
