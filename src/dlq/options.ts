/**
 * `npm run dlq` arguments: the command, its topic and selection. A bad argument is a
 * UsageError whose message is one line; the cli prints it and exits 2.
 */
import { AllTopics, dlqOf, type DlqName } from '../topics.ts';

export class UsageError extends Error {}

export const Usage = `Usage: npm run dlq -- <command> [options]

Reads the dead-letter topics (<TOPIC_PREFIX><topic>.dlq on KAFKA_BROKERS, configured by the
same KAFKA_* and TOPIC_PREFIX variables as the roles) and sends dead letters back to the
topics they came from. It never commits an offset in any consumer group.

Commands:
  list [--json]                 per dead-letter topic and error code: how many, the first and
                                the last time (message timestamps); --json: one JSON line a row
  show TOPIC PARTITION OFFSET   one dead letter: where it was, its headers and its value
  redrive --topic TOPIC [selection] [--dry-run]
                                sends the selected dead letters of TOPIC back to TOPIC with the
                                same key, value and headers, minus the x-error-* and x-source-*
                                ones, plus x-redriven-from: <dlq topic>/<partition>/<offset>;
                                the workers check them like any other message. Prints each one.
Selection (redrive; without one, every dead letter of the topic):
  --code CODE                   only those whose x-error-code is CODE
  --partition P                 only partition P of the dead-letter topic
  --from-offset N               offsets from N (inclusive), in every partition selected
  --to-offset N                 offsets up to N (inclusive), in every partition selected
  --offset P:O[,P:O...]         exactly these dead letters (partition:offset); not together
                                with --partition, --from-offset or --to-offset
  --dry-run                     print what would be sent and send nothing
  --help                        this text

TOPIC is a registry topic, with or without .dlq: order.start or order.start.dlq.
Exit code: 0 done, 1 Kafka failed, 2 bad arguments or configuration.
`;

export interface Selection {
  code: string | null;
  partition: number | null;
  from: number | null;
  to: number | null;
  /** Exact partition:offset pairs, or null for a range selection. */
  offsets: { partition: number; offset: number }[] | null;
}

export type DlqCommand =
  | { command: 'help' }
  | { command: 'list'; json: boolean }
  | { command: 'show'; dlq: DlqName; partition: number; offset: number }
  | { command: 'redrive'; dlq: DlqName; selection: Selection; dryRun: boolean };

const Commands = ['list', 'show', 'redrive'] as const;
const Flags: Record<(typeof Commands)[number], string[]> = {
  list: ['--json'],
  show: [],
  redrive: ['--dry-run'],
};
const Valued: Record<(typeof Commands)[number], string[]> = {
  list: [],
  show: [],
  redrive: ['--topic', '--code', '--partition', '--from-offset', '--to-offset', '--offset'],
};

/** A dead-letter topic of the registry, named by its topic or by its `.dlq` name. */
export function dlqTopic(raw: string): DlqName {
  const name = raw.endsWith('.dlq') ? raw : `${raw}.dlq`;
  const found = AllTopics.map(dlqOf).find((d) => d === name);
  if (!found)
    throw new UsageError(
      `topic ${JSON.stringify(raw)}: expected a registry topic such as order.start (or order.start.dlq)`,
    );
  return found;
}

function nonNegative(name: string, raw: string): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n))
    throw new UsageError(`${name} ${JSON.stringify(raw)}: expected a whole number from 0`);
  return n;
}

function offsetList(raw: string): { partition: number; offset: number }[] {
  return raw.split(',').map((item) => {
    const m = /^(\d+):(\d+)$/.exec(item.trim());
    if (!m) throw new UsageError(`--offset ${JSON.stringify(raw)}: expected partition:offset pairs, e.g. 0:12,2:5`);
    return { partition: nonNegative('--offset partition', m[1]!), offset: nonNegative('--offset offset', m[2]!) };
  });
}

export function parseArgs(argv: readonly string[]): DlqCommand {
  if (argv.includes('--help') || argv.includes('-h')) return { command: 'help' };
  const [command, ...rest] = argv;
  if (command === undefined) throw new UsageError('a command is missing: list, show or redrive (see --help)');
  if (!(Commands as readonly string[]).includes(command))
    throw new UsageError(`unknown command ${JSON.stringify(command)}: expected list, show or redrive (see --help)`);
  const cmd = command as (typeof Commands)[number];
  const given = new Map<string, string>();
  const flags = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    if (Flags[cmd].includes(name)) {
      if (eq !== -1) throw new UsageError(`${name} takes no value`);
      flags.add(name);
    } else if (Valued[cmd].includes(name)) {
      const value = eq === -1 ? rest[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '' || (eq === -1 && value.startsWith('--')))
        throw new UsageError(`${name} needs a value`);
      if (given.has(name)) throw new UsageError(`${name} given twice`);
      given.set(name, value);
    } else throw new UsageError(`unknown option ${name} for ${cmd} (see --help)`);
  }

  if (cmd === 'list') {
    if (positional.length > 0) throw new UsageError(`list takes no arguments, got ${JSON.stringify(positional[0])}`);
    return { command: 'list', json: flags.has('--json') };
  }
  if (cmd === 'show') {
    if (positional.length !== 3)
      throw new UsageError('show needs TOPIC PARTITION OFFSET, e.g. show order.start.dlq 0 12');
    return {
      command: 'show',
      dlq: dlqTopic(positional[0]!),
      partition: nonNegative('PARTITION', positional[1]!),
      offset: nonNegative('OFFSET', positional[2]!),
    };
  }
  if (positional.length > 0) throw new UsageError(`redrive takes options only, got ${JSON.stringify(positional[0])}`);
  const topic = given.get('--topic');
  if (topic === undefined) throw new UsageError('redrive needs --topic TOPIC (see --help)');
  const num = (name: string): number | null => {
    const raw = given.get(name);
    return raw === undefined ? null : nonNegative(name, raw);
  };
  const offsets = given.has('--offset') ? offsetList(given.get('--offset')!) : null;
  const selection: Selection = {
    code: given.get('--code') ?? null,
    partition: num('--partition'),
    from: num('--from-offset'),
    to: num('--to-offset'),
    offsets,
  };
  if (offsets && (selection.partition !== null || selection.from !== null || selection.to !== null))
    throw new UsageError(
      '--offset names exact dead letters: not together with --partition, --from-offset or --to-offset',
    );
  if (selection.from !== null && selection.to !== null && selection.from > selection.to)
    throw new UsageError(`--from-offset ${selection.from} is after --to-offset ${selection.to}`);
  return { command: 'redrive', dlq: dlqTopic(topic), selection, dryRun: flags.has('--dry-run') };
}
