/**
 * The roles of one chaos run: the api and the workers as processes (each kind of worker
 * process `copies` times) under a prefix of their own on the given Kafka and Redis. The
 * layout says which kinds: a process per worker role (each role its own consumer group),
 * or processes of every worker role (one group for all of them, as `all` runs them).
 */
import { mkdirSync } from 'node:fs';
import type { Role } from '../system.ts';
import { ConsumingRoles } from '../topics.ts';
import { RoleProcess } from './roles.ts';

export const WorkerRoles = ['stock', 'payment', 'order'] as const satisfies readonly Role[];

export const Layouts = ['per-role', 'one-group'] as const;
export type Layout = (typeof Layouts)[number];

/** The worker processes of a layout, each as the argument of src/main.ts (deploys go in this order). */
export function workerKinds(layout: Layout): string[] {
  return layout === 'per-role' ? [...WorkerRoles] : [ConsumingRoles.join(',')];
}

/** A process's name, in logs and log files: its role, or `workers` for a process of every worker role. */
const processName = (kind: string): string => (kind.includes(',') ? 'workers' : kind);

export interface ClusterSpec {
  prefix: string;
  kafkaBrokers: string;
  redisUrl: string;
  redlockUrls?: string;
  partitions: number;
  stepTimeoutMs: number;
  adminToken: string;
  logDir: string;
  /** Processes of each kind of worker (the api is always one). */
  copies: number;
  layout: Layout;
}

/**
 * The environment of every role process: the parent's, with the run's settings on top.
 * User authentication is off whatever the parent has: the load generator sends no tokens.
 */
export function roleEnv(spec: ClusterSpec, parent: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...parent,
    BROKER: 'kafka',
    STORE: 'redis',
    KAFKA_BROKERS: spec.kafkaBrokers,
    KAFKA_PARTITIONS: String(spec.partitions),
    TOPIC_PREFIX: `${spec.prefix}.`,
    KAFKA_GROUP_PREFIX: `${spec.prefix}.`,
    KEY_PREFIX: `${spec.prefix}:`,
    REDIS_URL: spec.redisUrl,
    REDLOCK_URLS: spec.redlockUrls ?? spec.redisUrl,
    STEP_TIMEOUT_MS: String(spec.stepTimeoutMs),
    ADMIN_TOKEN: spec.adminToken,
    AUTH_JWT_SECRET: '',
    AUTH_JWKS_URL: '',
    AUTH_ISSUER: '',
    AUTH_AUDIENCE: '',
    SEED_DEMO: '0',
    // The load generator is one client long-polling every order in flight: no per-client cap.
    MAX_WAITS_PER_CLIENT: '0',
    LOG_LEVEL: parent.LOG_LEVEL ?? 'warn',
  };
}

export class Cluster {
  readonly api: RoleProcess;
  /** Per kind of worker process (workerKinds), its processes. */
  readonly workers: Map<string, RoleProcess[]>;

  private started = 0;

  private constructor(
    api: RoleProcess,
    workers: Map<string, RoleProcess[]>,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
  ) {
    this.api = api;
    this.workers = workers;
  }

  /** A new process of the same role (not started), as a deploy brings up. */
  async replacement(old: RoleProcess): Promise<RoleProcess> {
    return RoleProcess.create(old.role, `${processName(old.role)}-v${++this.started}`, this.env, this.logDir);
  }

  replace(old: RoleProcess, next: RoleProcess): void {
    const list = this.workers.get(old.role)!;
    list[list.indexOf(old)] = next;
  }

  static async create(spec: ClusterSpec): Promise<Cluster> {
    mkdirSync(spec.logDir, { recursive: true });
    const env = roleEnv(spec);
    const workers = new Map<string, RoleProcess[]>();
    for (const kind of workerKinds(spec.layout)) {
      const copies: RoleProcess[] = [];
      for (let i = 1; i <= spec.copies; i++)
        copies.push(await RoleProcess.create(kind, `${processName(kind)}-${i}`, env, spec.logDir));
      workers.set(kind, copies);
    }
    return new Cluster(await RoleProcess.create('api', 'api', env, spec.logDir), workers, env, spec.logDir);
  }

  all(): RoleProcess[] {
    return [...[...this.workers.values()].flat(), this.api];
  }

  /** Consumers first (they create the topics and join), then the api. */
  async start(): Promise<void> {
    await Promise.all([...this.workers.values()].flat().map((p) => p.start()));
    await this.api.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.all().map((p) => p.term()));
  }
}
