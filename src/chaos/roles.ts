/**
 * Role processes of a chaos run: `node --import tsx src/main.ts <role>`, each with its
 * own log file and HTTP port (PORT for the api, METRICS_PORT for the others), so
 * readiness is one question to every role: does GET /healthz answer 200?
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { NODE_FLAGS } from '../node-flags.ts';
import { restartablePort } from './ports.ts';

const root = new URL('../..', import.meta.url).pathname;

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Starts of a role whose port was taken before it could bind it, before giving up. */
const PORT_TAKEN_ATTEMPTS = 4;

/** The last lines of a role's log, for an error that names why it stopped. */
function tail(path: string, lines = 8): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export class RoleProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<unknown> = Promise.resolve();
  private starts = 0;

  private constructor(
    /** The argument of src/main.ts: a role, or roles joined by commas. */
    readonly role: string,
    readonly name: string,
    private chosenPort: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {}

  static async create(role: string, name: string, env: NodeJS.ProcessEnv, logDir: string): Promise<RoleProcess> {
    return new RoleProcess(role, name, await restartablePort(), env, logDir);
  }

  /** Its HTTP port: kept across restarts (clients of the api reconnect to it). */
  get port(): number {
    return this.chosenPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /**
   * Spawns the role; resolves once /healthz answers 200 (it may wait for its services).
   * The port was free when it was chosen, but anything on the machine may take it before
   * the role binds it (an outgoing connection's ephemeral port, say): a role that stops
   * because its port is taken is started again, on a new port at its first start (nobody
   * knows the old one yet), else on the same port once it is free again.
   */
  async start(timeoutMs = 120_000): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.spawnOnce(timeoutMs);
      if (outcome.healthy) return;
      const portTaken = outcome.logTail.includes('is already in use');
      if (!portTaken || attempt >= PORT_TAKEN_ATTEMPTS) {
        throw new Error(`${this.name} exited during start-up (${outcome.logPath}):\n${outcome.logTail}`);
      }
      if (this.starts === attempt) this.chosenPort = await restartablePort();
      else await delay(500);
    }
  }

  private async spawnOnce(
    timeoutMs: number,
  ): Promise<{ healthy: true } | { healthy: false; logPath: string; logTail: string }> {
    const logPath = join(this.logDir, `${this.name}.${++this.starts}.log`);
    const log = openSync(logPath, 'a');
    const portVar = this.role === 'api' ? 'PORT' : 'METRICS_PORT';
    const child = spawn(process.execPath, [...NODE_FLAGS, '--import', 'tsx', join(root, 'src/main.ts'), this.role], {
      cwd: root,
      env: { ...this.env, [portVar]: String(this.port) },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    this.exited = once(child, 'exit').finally(() => {
      if (this.child === child) this.child = null;
    });
    const until = Date.now() + timeoutMs;
    while (!(await healthy(this.port))) {
      if (this.child !== child) return { healthy: false, logPath, logTail: tail(logPath) };
      if (Date.now() > until) throw new Error(`${this.name} not healthy within ${timeoutMs} ms (${logPath})`);
      await delay(100);
    }
    return { healthy: true };
  }

  /** SIGTERM and wait for the exit (a clean shutdown leaves the consumer group). */
  async term(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }

  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}
