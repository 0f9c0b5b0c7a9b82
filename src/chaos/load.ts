/**
 * The load generator as a child process against the cluster's api, exactly as a user
 * runs it (`src/load/cli.ts --target`), with a per-order trace for the analysis.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Report } from '../load/report.ts';

const root = new URL('../..', import.meta.url).pathname;

export interface LoadRun {
  /** Settles with the report line once every order ended or the deadline passed. */
  report: Promise<Report & { firstPostEpochMs?: number }>;
}

export function startLoad(args: string[], env: NodeJS.ProcessEnv, logFile: string): LoadRun {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/load/cli.ts'), '--quiet', ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const report = once(child, 'exit').then(async () => {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(logFile, err);
    const line = out.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(line) as Report;
    } catch {
      throw new Error(
        `the load generator printed no report (exit ${child.exitCode}): ${err.trim().split('\n').slice(-3).join(' | ')}`,
      );
    }
  });
  return { report };
}

/** Orders the api has accepted so far (its orders_accepted_total), or null if it does not answer. */
export async function acceptedSoFar(apiUrl: string): Promise<number | null> {
  try {
    const res = await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(2_000) });
    const m = /^orders_accepted_total (\d+)/m.exec(await res.text());
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
