/**
 * `npm run chaos -- [options]`: starts the services it owns, runs each fault under load,
 * prints the table and one JSON line; exit 0 when every run met its goals.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../load/options.ts';
import { ChaosUsage, parseChaosArgs, type ChaosOptions } from './options.ts';
import { restartablePort } from './ports.ts';
import { runScenario, type RunName, type RunResult, type Services } from './scenario.ts';
import { LocalKafka, LocalRedis } from './services.ts';
import { formatTable } from './table.ts';

function runsFor(opts: ChaosOptions): RunName[] {
  const runs: RunName[] = [];
  for (const f of opts.faults) {
    if (f === 'kill') runs.push('kill', 'kill+copy');
    else if (f === 'term') runs.push('term', 'term-recreate');
    else if (f === 'redlock') runs.push('redlock-1', 'redlock-2');
    else runs.push(f);
  }
  // term is judged against the same load without a fault: measure that first.
  if (runs.includes('term') && !runs.includes('none')) runs.unshift('none');
  return runs;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseChaosArgs>;
  try {
    parsed = parseChaosArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`chaos: ${(err as Error).message}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(ChaosUsage);
    return 0;
  }
  const opts = parsed.options;
  const log = (line: string) => opts.progress && process.stderr.write(`chaos: ${line}\n`);
  mkdirSync(opts.dir, { recursive: true });
  const runs = runsFor(opts);
  log(`seed ${opts.seed}; runs: ${runs.join(', ')}; ${opts.orders} orders at ${opts.rate}/s each`);

  const kafka = new LocalKafka(opts.kafkaPort, join(opts.dir, 'kafka'));
  const owned: LocalRedis[] = [];
  const services: Services = { kafka, redisUrl: process.env.REDIS_URL?.trim() || 'redis://127.0.0.1:6379' };
  const results: RunResult[] = [];
  try {
    log(`starting a Kafka broker of our own on ${kafka.brokers}`);
    kafka.start();
    if (runs.includes('redis')) {
      services.ownRedis = new LocalRedis(await restartablePort(), join(opts.dir, `redis-aof-${opts.seed}`), true);
      owned.push(services.ownRedis);
      await services.ownRedis.start();
    }
    if (runs.some((r) => r.startsWith('redlock'))) {
      services.redlock = [];
      for (let i = 0; i < 3; i++)
        services.redlock.push(
          new LocalRedis(await restartablePort(), join(opts.dir, `redlock-${opts.seed}-${i}`), false),
        );
      owned.push(...services.redlock);
      for (const m of services.redlock) await m.start();
    }
    let baseline: number | null = null;
    for (const [i, name] of runs.entries()) {
      const result = await runScenario(name, opts, services, i, log, baseline);
      if (name === 'none') baseline = result.p99Ms;
      results.push(result);
      log(`${name}: ${result.ok ? 'goals met' : `MISSED ${result.goals.join('; ')}`}`);
    }
  } finally {
    await Promise.all(owned.map((r) => r.stop()));
    try {
      kafka.reset();
    } catch (err) {
      log(`could not stop the Kafka broker: ${(err as Error).message}`);
    }
  }
  process.stdout.write(`${formatTable(results)}\n`);
  const ok = results.every((r) => r.ok);
  process.stdout.write(
    `${JSON.stringify({ seed: opts.seed, rate: opts.rate, orders: opts.orders, stepTimeoutMs: opts.stepTimeoutMs, ok, runs: results })}\n`,
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof UsageError ? '' : 'failed: '}${(err as Error)?.message ?? err}\n`);
    process.exit(1);
  },
);
