#!/usr/bin/env node
// Median of load reports: reads JSON report lines (`npm run load` output) from the files
// given or stdin and prints one JSON line with the median of every numeric field.
// Usage: node scripts/bench-median.mjs runs.jsonl   |   ... | node scripts/bench-median.mjs
import { readFileSync } from 'node:fs';

const text =
  process.argv.length > 2
    ? process.argv
        .slice(2)
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n')
    : readFileSync(0, 'utf8');
const reports = text
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l.startsWith('{') && l.includes('"ordersPerSec"'))
  .map((l) => JSON.parse(l));
if (reports.length === 0) {
  process.stderr.write('no load reports found\n');
  process.exit(1);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const med = (get) => median(reports.map(get));
const first = reports[0];
const out = {
  runs: reports.length,
  mode: first.mode,
  broker: first.broker,
  store: first.store,
  orders: first.orders,
  ...(first.concurrency === undefined ? {} : { concurrency: first.concurrency }),
  ...(first.rate === undefined ? {} : { rate: first.rate }),
  ordersPerSec: med((r) => r.ordersPerSec),
  elapsedMs: med((r) => r.elapsedMs),
  latencyMs: Object.fromEntries(['p50', 'p95', 'p99', 'max'].map((p) => [p, med((r) => r.latencyMs[p])])),
  rssMB: med((r) => r.rssMB),
  heapMB: med((r) => r.heapMB),
  ...(first.offeredPerSec === undefined ? {} : { offeredPerSec: med((r) => r.offeredPerSec) }),
  invariantsOk: reports.filter((r) => r.invariants === 'ok' && r.stuck === 0).length,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
