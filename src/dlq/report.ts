/**
 * What `npm run dlq` prints and sends, without I/O: the list's summary rows, one dead
 * letter shown, the ranges a selection reads, and the message a dead letter is redriven as.
 */
import { DlqHeaders, RedriveHeaders } from '../ports/broker.ts';
import type { DlqRecord, OffsetRange, Redrive } from '../ports/dead-letters.ts';
import { AllTopics, dlqOf, type DlqName, type TopicName } from '../topics.ts';
import type { Selection } from './options.ts';

/** One line of `list`: a dead-letter topic and an error code. */
export interface SummaryRow {
  topic: DlqName;
  code: string;
  count: number;
  /** ISO-8601, from the message timestamps. */
  first: string;
  last: string;
}

/** Code shown for a record without x-error-code (not written by the adapter). */
export const NO_CODE = '(none)';

/** Counts per topic and error code, fed one record at a time (a DLQ may be large). */
export class Summary {
  private readonly rows = new Map<
    string,
    { topic: DlqName; code: string; count: number; first: number; last: number }
  >();

  add(r: DlqRecord): void {
    const code = r.headers[DlqHeaders.errorCode] ?? NO_CODE;
    const id = `${r.dlq}\u0000${code}`;
    const row = this.rows.get(id);
    if (!row) this.rows.set(id, { topic: r.dlq, code, count: 1, first: r.timestamp, last: r.timestamp });
    else {
      row.count++;
      row.first = Math.min(row.first, r.timestamp);
      row.last = Math.max(row.last, r.timestamp);
    }
  }

  list(): SummaryRow[] {
    return [...this.rows.values()]
      .sort((a, b) => a.topic.localeCompare(b.topic) || a.code.localeCompare(b.code))
      .map((r) => ({
        topic: r.topic,
        code: r.code,
        count: r.count,
        first: new Date(r.first).toISOString(),
        last: new Date(r.last).toISOString(),
      }));
  }
}

/** The rows as an aligned table with a header line; a line saying so when there are none. */
export function formatTable(rows: readonly SummaryRow[]): string {
  if (rows.length === 0) return 'no dead letters\n';
  const table = [
    ['TOPIC', 'CODE', 'COUNT', 'FIRST', 'LAST'],
    ...rows.map((r) => [r.topic, r.code, String(r.count), r.first, r.last]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return (
    table
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** One dead letter as pretty JSON: `value` when its bytes are JSON, else `rawValue` (UTF-8 text). */
export function formatRecord(r: DlqRecord): string {
  const text = r.value ? r.value.toString('utf8') : '';
  let value: { value: unknown } | { rawValue: string };
  try {
    value = { value: JSON.parse(text) as unknown };
  } catch {
    value = { rawValue: text };
  }
  const shown = {
    topic: r.dlq,
    partition: r.partition,
    offset: r.offset,
    time: new Date(r.timestamp).toISOString(),
    key: r.key,
    headers: r.headers,
    ...value,
  };
  return `${JSON.stringify(shown, null, 2)}\n`;
}

/** The offsets a selection reads (the code is checked on each record). */
export function rangesOf(s: Selection): OffsetRange[] {
  if (s.offsets) return s.offsets.map(({ partition, offset }) => ({ partition, from: offset, to: offset }));
  return [{ partition: s.partition, from: s.from ?? 0, to: s.to ?? Number.MAX_SAFE_INTEGER }];
}

export function selected(s: Selection, r: DlqRecord): boolean {
  return s.code === null || r.headers[DlqHeaders.errorCode] === s.code;
}

/** The registry topic a dead-letter topic belongs to. */
export function sourceOf(dlq: DlqName): TopicName {
  return AllTopics.find((t) => dlqOf(t) === dlq)!;
}

const stripped = new Set<string>([...Object.values(DlqHeaders), ...Object.values(RedriveHeaders)]);

/**
 * A dead letter as it goes back: to its topic, same key and value bytes, its original
 * headers (DlqHeaders and an earlier redrive's header removed), and where it came from.
 */
export function redriveOf(r: DlqRecord): Redrive {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) if (!stripped.has(k)) headers[k] = v;
  headers[RedriveHeaders.redrivenFrom] = `${r.dlq}/${r.partition}/${r.offset}`;
  return { topic: sourceOf(r.dlq), key: r.key, value: r.value, headers };
}

/** One printed line per redriven dead letter. */
export function redriveLine(r: DlqRecord, dryRun: boolean): string {
  const code = r.headers[DlqHeaders.errorCode] ?? NO_CODE;
  return `${dryRun ? 'would send' : 'sent'} ${r.dlq}/${r.partition}/${r.offset} -> ${sourceOf(r.dlq)} key=${r.key ?? ''} code=${code}`;
}
