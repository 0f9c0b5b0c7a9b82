/** The chaos command's closing table (one row per run) on stdout. */
import type { RunResult } from './scenario.ts';

const columns: [string, (r: RunResult) => string][] = [
  ['fault', (r) => r.fault],
  ['orders', (r) => String(r.orders)],
  ['in flight at hit', (r) => (r.inFlightAtHit === null ? '-' : String(r.inFlightAtHit))],
  ['in flight during', (r) => (r.inFlightDuringFault === null ? '-' : String(r.inFlightDuringFault))],
  ['lost', (r) => String(r.lost)],
  ['doubled', (r) => String(r.doubled)],
  ['stuck', (r) => String(r.stuck)],
  ['TIMEOUT', (r) => String(r.timeoutCancelled)],
  ['shed', (r) => String(r.shed)],
  ['p99 ms', (r) => String(r.p99Ms)],
  ['normal p99', (r) => (r.normalP99Ms === null ? '-' : String(r.normalP99Ms))],
  ['back to normal', (r) => (r.recoverySec === null ? (r.normalP99Ms === null ? '-' : 'never') : `${r.recoverySec} s`)],
  ['orders/s', (r) => String(r.ordersPerSec)],
  ['goals', (r) => (r.ok ? 'met' : `MISSED: ${r.goals.join('; ')}`)],
];

export function formatTable(results: readonly RunResult[]): string {
  const rows = [columns.map(([h]) => h), ...results.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, i) => Math.max(...rows.map((row) => (i === columns.length - 1 ? 0 : row[i]!.length))));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
