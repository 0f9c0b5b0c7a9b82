/**
 * The short versions of `npm run chaos` that CI runs: a rolling deploy of every worker
 * role, SIGKILL of each (alone and beside a second copy), and the Kafka broker stopped and
 * started, each under load on a Kafka of the command's own; then the deploys again with
 * the worker roles together in processes of all three (one consumer group). Asserted here: what the
 * system promises whatever the machine (nothing lost, doubled or stuck, the invariants,
 * no order cancelled for TIMEOUT by a deploy, at most 1% by the other faults, and each
 * fault met orders in flight). Latency goals are benchmarks (RELIABILITY.md), not tests.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunResult } from '../../src/chaos/scenario.ts';
import { ownKafkaSkip, portPair } from '../helpers/own-kafka.ts';

const skip = await ownKafkaSkip();

describe('chaos, short versions (CI)', { skip, timeout: 900_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-quick-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs the chaos command with `args` on a Kafka of its own; prints its table, returns its summary. */
  async function chaos(args: readonly string[]): Promise<RunResult[]> {
    const port = await portPair();
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/chaos/cli.ts',
        '--quick',
        ...args,
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
    const [code] = (await once(child, 'exit')) as [number | null];
    const line = out.trim().split('\n').pop() ?? '';
    assert.ok(line.startsWith('{'), `chaos printed no summary (exit ${code}); its stderr above says why`);
    const summary = JSON.parse(line) as { runs: RunResult[] };
    process.stdout.write(
      `${out
        .split('\n')
        .filter((l) => l.startsWith('|'))
        .join('\n')}\n`,
    );
    return summary.runs;
  }

  /** What the system promises under any fault, whatever the machine. */
  function assertKept(runs: readonly RunResult[]): void {
    for (const r of runs) {
      assert.equal(r.invariants, 'ok', `${r.fault}: invariants`);
      assert.deepEqual([r.lost, r.doubled, r.stuck], [0, 0, 0], `${r.fault}: lost, doubled, stuck`);
      if (r.fault === 'none') continue;
      assert.ok((r.inFlightDuringFault ?? 0) > 0, `${r.fault}: the fault met orders in flight`);
      const accepted = r.orders - r.shed;
      if (r.fault.startsWith('term'))
        assert.equal(r.timeoutCancelled, 0, 'a rolling deploy cancels nothing for TIMEOUT');
      else
        assert.ok(
          r.timeoutCancelled <= accepted * 0.01,
          `${r.fault}: ${r.timeoutCancelled} CANCELLED for TIMEOUT of ${accepted}`,
        );
    }
  }

  it('keeps every order through deploys (rolling and recreating), kill -9 of each worker role and a Kafka restart', async () => {
    const runs = await chaos(['--fault', 'term,kill,kafka']);
    assert.deepEqual(
      runs.map((r) => r.fault),
      ['none', 'term', 'term-recreate', 'kill', 'kill+copy', 'kafka'],
    );
    assertKept(runs);
  });

  it('keeps every order through deploys of processes of every worker role, one consumer group for all', async () => {
    const runs = await chaos(['--fault', 'term', '--layout', 'one-group']);
    assert.deepEqual(
      runs.map((r) => r.fault),
      ['none', 'term', 'term-recreate'],
    );
    assertKept(runs);
  });
});
