/**
 * `npm run load -- [options]`: parse the options, run, print the one JSON report line on
 * stdout, exit 0 (invariants ok, nothing stuck), 1 (not) or 2 (bad options).
 */
import { parseArgs, Usage, UsageError } from './options.ts';
import { exitCode, formatReport } from './report.ts';
import { runLoad } from './run.ts';

function exit(code: number, out?: string): void {
  if (out === undefined) process.exit(code);
  process.stdout.write(out, () => process.exit(code));
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`load: ${(err as Error).message}\n`);
    return exit(2);
  }
  if (parsed.help) return exit(0, Usage);
  try {
    const report = await runLoad(parsed.options);
    exit(exitCode(report), `${formatReport(report)}\n`);
  } catch (err) {
    process.stderr.write(`load: ${(err as Error).message}\n`);
    exit(err instanceof UsageError ? 2 : 1);
  }
}

void main();
