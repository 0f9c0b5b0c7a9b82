/**
 * The faults, each injected once the load is under way: it returns when the fault hit
 * and when it healed (the last role healthy again, the service serving again).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster } from './cluster.ts';
import type { LocalKafka, LocalRedis } from './services.ts';

export interface FaultTimes {
  hitAt: number;
  healedAt: number;
}

export interface FaultContext {
  cluster: Cluster;
  kafka: LocalKafka;
  /** The Redis the counters live in, when this run owns it (the redis fault). */
  redis?: LocalRedis;
  /** The Redlock masters, when this run owns them (the redlock faults). */
  redlock?: LocalRedis[];
  quick: boolean;
  log: (line: string) => void;
}

export type Fault = (ctx: FaultContext) => Promise<FaultTimes>;

/**
 * Rolling deploy, as an orchestrator does it with no unavailable replica: each worker
 * process in turn gets its replacement started (healthy: joined its group), then SIGTERM.
 */
export const term: Fault = async ({ cluster, log }) => {
  const hitAt = Date.now();
  for (const processes of cluster.workers.values()) {
    for (const old of [...processes]) {
      const next = await cluster.replacement(old);
      log(`deploy ${next.name}, then SIGTERM ${old.name}`);
      await next.start();
      await old.term();
      cluster.replace(old, next);
    }
  }
  return { hitAt, healedAt: Date.now() };
};

/** A deploy that recreates: each worker process in turn gets SIGTERM, and is started again once it exited. */
export const termRecreate: Fault = async ({ cluster, log }) => {
  const hitAt = Date.now();
  for (const processes of cluster.workers.values()) {
    for (const p of processes) {
      log(`SIGTERM ${p.name}, then start it again`);
      await p.term();
      await p.start();
    }
  }
  return { hitAt, healedAt: Date.now() };
};

/** SIGKILL of one process of each kind of worker in turn, restarted a little later. */
export const kill: Fault = async ({ cluster, log }) => {
  const hitAt = Date.now();
  const downMs = 2_000;
  for (const processes of cluster.workers.values()) {
    const p = processes[0]!;
    log(`kill -9 ${p.name}`);
    await p.kill();
    await delay(downMs);
    await p.start();
  }
  return { hitAt, healedAt: Date.now() };
};

export const kafka: Fault = async ({ kafka: broker, quick, log }) => {
  const hitAt = Date.now();
  log('kafka: stop');
  broker.stop();
  await delay(quick ? 5_000 : 10_000);
  log('kafka: start');
  broker.start();
  return { hitAt, healedAt: Date.now() };
};

export const redis: Fault = async ({ redis: server, log }) => {
  if (!server) throw new Error('the redis fault needs a Redis of its own');
  const hitAt = Date.now();
  log('redis: kill -9');
  await server.kill();
  await delay(3_000);
  await server.start();
  log('redis: back');
  return { hitAt, healedAt: Date.now() };
};

/** `down` of the Redlock masters killed for a while, then brought back. */
export const redlockDown =
  (down: number): Fault =>
  async ({ redlock, quick, log }) => {
    if (!redlock || redlock.length < down) throw new Error('the redlock fault needs three masters of its own');
    const hitAt = Date.now();
    for (const m of redlock.slice(0, down)) {
      log(`redlock: kill -9 master ${m.port}`);
      await m.kill();
    }
    await delay(quick ? 5_000 : 10_000);
    for (const m of redlock.slice(0, down)) await m.start();
    log('redlock: masters back');
    return { hitAt, healedAt: Date.now() };
  };

export const api: Fault = async ({ cluster, log }) => {
  const hitAt = Date.now();
  log('kill -9 api');
  await cluster.api.kill();
  await delay(1_000);
  await cluster.api.start();
  return { hitAt, healedAt: Date.now() };
};
