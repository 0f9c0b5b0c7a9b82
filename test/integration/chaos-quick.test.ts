/**
 * The short versions of `npm run chaos` that CI runs: a rolling deploy of every worker
 * role, SIGKILL of each (alone and beside a second copy), and the Kafka broker stopped and
 * started, each under load on a Kafka of the command's own. Asserted here: what the
 * system promises whatever the machine (nothing lost, doubled or stuck, the invariants,
 * no order cancelled for TIMEOUT by a deploy, at most 1% by the other faults, and each
 * fault hit orders in flight). Latency goals are benchmarks (RELIABILITY.md), not tests.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunResult } from '../../src/chaos/scenario.ts';
import { freePort, redisSkipReason } from '../helpers/redis.ts';

const cached = existsSync(
  join(
    process.env.KAFKA_LOCAL_HOME ?? join(homedir(), '.cache', 'order-saga-kafka'),
    'kafka-3.9.2',
    'libs',
    '.complete',
  ),
);
const required = process.env.REQUIRE_INTEGRATION === '1';
const redisSkip = await redisSkipReason();
const skip =
  redisSkip ?? (cached || required ? false : "Kafka's jars are not cached yet: run scripts/kafka-local.sh start once");

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose neighbour (the controller's) is free too. */
async function portPair(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await isFree(port + 1))) return port;
  }
}

describe('chaos, short versions (CI)', { skip, timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-quick-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every order through deploys (rolling and recreating), kill -9 of each worker role and a Kafka restart', async () => {
    const port = await portPair();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/chaos/cli.ts',
        '--quick',
        '--fault',
        'term,kill,kafka',
        '--seed',
        '11',
        '--kafka-port',
        String(port),
        '--dir',
        dir,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    await once(child, 'exit');
    const line = out.trim().split('\n').pop() ?? '';
    const summary = JSON.parse(line) as { runs: RunResult[] };
    process.stdout.write(
      `${out
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .join('\n')}\n`,
    );
    const byName = new Map(summary.runs.map((r) => [r.fault, r]));
    assert.deepEqual([...byName.keys()], ['none', 'term', 'term-recreate', 'kill', 'kill+copy', 'kafka']);
    for (const r of summary.runs) {
      assert.equal(r.invariants, 'ok', `${r.fault}: invariants`);
      assert.deepEqual([r.lost, r.doubled, r.stuck], [0, 0, 0], `${r.fault}: lost, doubled, stuck`);
      if (r.fault === 'none') continue;
      assert.ok((r.inFlightAtHit ?? 0) > 0, `${r.fault}: the fault hit orders in flight`);
      const accepted = r.orders - r.shed;
      if (r.fault.startsWith('term'))
        assert.equal(r.timeoutCancelled, 0, 'a rolling deploy cancels nothing for TIMEOUT');
      else
        assert.ok(
          r.timeoutCancelled <= accepted * 0.01,
          `${r.fault}: ${r.timeoutCancelled} CANCELLED for TIMEOUT of ${accepted}`,
        );
    }
  });
});
