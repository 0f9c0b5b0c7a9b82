/**
 * `npm run dlq -- list|show|redrive`: the operator's view of the dead-letter topics. Only
 * wiring: parse the arguments, read the config the roles read, open the Kafka adapter's
 * DeadLetterTopics and print. Exit 0 done, 1 Kafka failed or nothing found, 2 bad
 * arguments or configuration (one line on stderr).
 */
import { openDlqReader } from '../../adapters/broker/kafka/dlq-reader.ts';
import { loadConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { DeadLetterTopics, DlqRecord } from '../ports/dead-letters.ts';
import { parseArgs, Usage, UsageError, type DlqCommand } from './options.ts';
import { formatRecord, formatTable, rangesOf, redriveLine, redriveOf, selected, Summary } from './report.ts';

/** Dead letters sent back per broker round trip. */
const SEND_BATCH = 500;

const out = (text: string): void => void process.stdout.write(text);

async function run(cmd: Exclude<DlqCommand, { command: 'help' }>, dlqs: DeadLetterTopics): Promise<number> {
  if (cmd.command === 'list') {
    const summary = new Summary();
    for (const dlq of await dlqs.topics()) await dlqs.read(dlq, (r) => summary.add(r));
    const rows = summary.list();
    out(cmd.json ? rows.map((r) => `${JSON.stringify(r)}\n`).join('') : formatTable(rows));
    return 0;
  }
  if (cmd.command === 'show') {
    let found: DlqRecord | null = null;
    await dlqs.read(cmd.dlq, (r) => (found = r), [{ partition: cmd.partition, from: cmd.offset, to: cmd.offset }]);
    if (!found) {
      process.stderr.write(`dlq: no dead letter at ${cmd.dlq} partition ${cmd.partition} offset ${cmd.offset}\n`);
      return 1;
    }
    out(formatRecord(found));
    return 0;
  }
  const chosen: DlqRecord[] = [];
  await dlqs.read(cmd.dlq, (r) => void (selected(cmd.selection, r) && chosen.push(r)), rangesOf(cmd.selection));
  for (let i = 0; i < chosen.length; i += SEND_BATCH) {
    const batch = chosen.slice(i, i + SEND_BATCH);
    if (!cmd.dryRun) await dlqs.send(batch.map(redriveOf));
    out(batch.map((r) => `${redriveLine(r, cmd.dryRun)}\n`).join(''));
  }
  out(
    cmd.dryRun
      ? `dry run: ${chosen.length} dead letters of ${cmd.dlq} selected, nothing sent\n`
      : `redriven: ${chosen.length} dead letters of ${cmd.dlq}\n`,
  );
  return 0;
}

async function main(): Promise<number> {
  let cmd: DlqCommand;
  let config: ReturnType<typeof loadConfig>;
  try {
    cmd = parseArgs(process.argv.slice(2));
    if (cmd.command === 'help') {
      out(Usage);
      return 0;
    }
    config = loadConfig(process.env);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof ConfigError)) throw err;
    process.stderr.write(`dlq: ${err.message}\n`);
    return 2;
  }
  let dlqs: DeadLetterTopics | null = null;
  try {
    dlqs = await openDlqReader({
      brokers: config.kafkaBrokers,
      topicPrefix: config.topicPrefix,
      security: config.kafkaSecurity,
    });
    return await run(cmd, dlqs);
  } catch (err) {
    process.stderr.write(`dlq: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await dlqs?.close();
  }
}

void main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (err: unknown) => {
    process.stderr.write(`dlq: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
