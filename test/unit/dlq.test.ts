/**
 * `npm run dlq` without Kafka: its arguments (one-line errors), the list's summary, how a
 * dead letter is shown, and the message it is redriven as. test/integration/dlq-cli.test.ts
 * runs the command itself on a real Kafka.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../src/dlq/options.ts';
import { formatRecord, formatTable, rangesOf, redriveOf, selected, Summary } from '../../src/dlq/report.ts';
import { DlqHeaders, RedriveHeaders } from '../../src/ports/broker.ts';
import type { DlqRecord } from '../../src/ports/dead-letters.ts';

const none = { code: null, partition: null, from: null, to: null, offsets: null };

describe('dlq arguments', () => {
  it('reads list, show and redrive', () => {
    assert.deepEqual(parseArgs(['list']), { command: 'list', json: false });
    assert.deepEqual(parseArgs(['list', '--json']), { command: 'list', json: true });
    assert.deepEqual(parseArgs(['show', 'order.start', '2', '15']), {
      command: 'show',
      dlq: 'order.start.dlq',
      partition: 2,
      offset: 15,
    });
    assert.deepEqual(parseArgs(['redrive', '--topic', 'payment.refund.dlq']), {
      command: 'redrive',
      dlq: 'payment.refund.dlq',
      selection: none,
      dryRun: false,
    });
    assert.deepEqual(
      parseArgs([
        'redrive',
        '--topic=order.start',
        '--code',
        'UNKNOWN_ORDER',
        '--partition',
        '1',
        '--from-offset',
        '3',
        '--to-offset=9',
        '--dry-run',
      ]),
      {
        command: 'redrive',
        dlq: 'order.start.dlq',
        selection: { code: 'UNKNOWN_ORDER', partition: 1, from: 3, to: 9, offsets: null },
        dryRun: true,
      },
    );
    const exact = parseArgs(['redrive', '--topic', 'order.start', '--offset', '0:12,2:5']);
    assert.ok(exact.command === 'redrive');
    assert.deepEqual(exact.selection, {
      ...none,
      offsets: [
        { partition: 0, offset: 12 },
        { partition: 2, offset: 5 },
      ],
    });
    assert.deepEqual(parseArgs(['redrive', '--help']), { command: 'help' });
    assert.deepEqual(parseArgs(['--help']), { command: 'help' });
  });

  const bad: [string[], RegExp][] = [
    [[], /command is missing/],
    [['purge'], /unknown command "purge"/],
    [['list', 'extra'], /list takes no arguments/],
    [['list', '--dry-run'], /unknown option --dry-run for list/],
    [['show', 'order.start', '1'], /show needs TOPIC PARTITION OFFSET/],
    [['show', 'order.cencel', '1', '2'], /topic "order.cencel": expected a registry topic/],
    [['show', 'order.start', '-1', '2'], /PARTITION "-1": expected a whole number/],
    [['redrive'], /needs --topic/],
    [['redrive', '--topic'], /--topic needs a value/],
    [['redrive', '--topic', 'order.start', '--topic', 'order.start'], /--topic given twice/],
    [['redrive', '--topic', 'order.start', '--from-offset', 'x'], /--from-offset "x"/],
    [
      ['redrive', '--topic', 'order.start', '--from-offset', '9', '--to-offset', '3'],
      /--from-offset 9 is after --to-offset 3/,
    ],
    [['redrive', '--topic', 'order.start', '--offset', '5'], /--offset "5": expected partition:offset pairs/],
    [['redrive', '--topic', 'order.start', '--offset', '0:1', '--partition', '0'], /not together with --partition/],
    [['redrive', '--topic', 'order.start', '--dry-run=yes'], /--dry-run takes no value/],
  ];
  for (const [argv, message] of bad)
    it(`refuses ${JSON.stringify(argv)} with one line`, () => {
      assert.throws(
        () => parseArgs(argv),
        (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes('\n'),
      );
    });

  it('--help prints the usage and exits 0; a bad argument one line on stderr and exit 2', () => {
    const help = spawnSync(process.execPath, ['--import', 'tsx', 'src/dlq/cli.ts', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: npm run dlq -- <command>/);
    const badRun = spawnSync(process.execPath, ['--import', 'tsx', 'src/dlq/cli.ts', 'show', 'x'], {
      encoding: 'utf8',
    });
    assert.equal(badRun.status, 2);
    assert.equal(badRun.stderr, 'dlq: show needs TOPIC PARTITION OFFSET, e.g. show order.start.dlq 0 12\n');
    const badEnv = spawnSync(process.execPath, ['--import', 'tsx', 'src/dlq/cli.ts', 'list'], {
      encoding: 'utf8',
      env: { ...process.env, KAFKA_BROKERS: 'nowhere' },
    });
    assert.equal(badEnv.status, 2);
    assert.match(badEnv.stderr, /^dlq: Invalid environment variable KAFKA_BROKERS="nowhere"/);
  });
});

const record = (over: Partial<DlqRecord> = {}): DlqRecord => ({
  dlq: 'order.start.dlq',
  partition: 1,
  offset: 7,
  timestamp: Date.UTC(2026, 0, 2, 3, 4, 5),
  key: 'o-1',
  value: Buffer.from('{"v":1,"orderId":"o-1"}'),
  headers: {
    'x-trace': 'abc',
    'x-original-size': '42',
    [DlqHeaders.errorCode]: 'UNKNOWN_ORDER',
    [DlqHeaders.errorMessage]: 'no record for order o-1',
    [DlqHeaders.sourceTopic]: 'order.start',
    [DlqHeaders.sourcePartition]: '1',
    [DlqHeaders.sourceOffset]: '99',
  },
  ...over,
});

describe('dlq output', () => {
  it('summarises per topic and error code: count, first and last time', () => {
    const s = new Summary();
    s.add(record({ timestamp: 2_000 }));
    s.add(record({ timestamp: 1_000, offset: 8 }));
    s.add(record({ dlq: 'payment.refund.dlq', timestamp: 5_000 }));
    s.add(record({ headers: { [DlqHeaders.errorCode]: 'INVALID_MESSAGE' }, timestamp: 3_000 }));
    s.add(record({ headers: {}, timestamp: 4_000 }));
    const rows = s.list();
    assert.deepEqual(
      rows.map((r) => [r.topic, r.code, r.count, r.first, r.last]),
      [
        ['order.start.dlq', '(none)', 1, '1970-01-01T00:00:04.000Z', '1970-01-01T00:00:04.000Z'],
        ['order.start.dlq', 'INVALID_MESSAGE', 1, '1970-01-01T00:00:03.000Z', '1970-01-01T00:00:03.000Z'],
        ['order.start.dlq', 'UNKNOWN_ORDER', 2, '1970-01-01T00:00:01.000Z', '1970-01-01T00:00:02.000Z'],
        ['payment.refund.dlq', 'UNKNOWN_ORDER', 1, '1970-01-01T00:00:05.000Z', '1970-01-01T00:00:05.000Z'],
      ],
    );
    const table = formatTable(rows).split('\n');
    assert.match(table[0]!, /^TOPIC\s+CODE\s+COUNT\s+FIRST\s+LAST$/);
    assert.match(table[3]!, /^order\.start\.dlq\s+UNKNOWN_ORDER\s+2\s+1970/);
    assert.equal(formatTable([]), 'no dead letters\n');
  });

  it('shows a JSON value parsed and anything else as raw text', () => {
    const json = JSON.parse(formatRecord(record())) as Record<string, unknown>;
    assert.deepEqual(json.value, { v: 1, orderId: 'o-1' });
    assert.equal(json.time, '2026-01-02T03:04:05.000Z');
    assert.equal((json.headers as Record<string, string>)['x-original-size'], '42', 'unknown headers are data');
    const raw = JSON.parse(formatRecord(record({ value: Buffer.from('\u0000oops') }))) as Record<string, unknown>;
    assert.equal(raw.rawValue, '\u0000oops');
    assert.equal(raw.value, undefined);
  });

  it('redrives with the same key and value, original headers minus the DLQ ones, plus where from', () => {
    const r = record();
    const again = redriveOf(r);
    assert.equal(again.topic, 'order.start');
    assert.equal(again.key, 'o-1');
    assert.equal(again.value, r.value);
    assert.deepEqual(again.headers, {
      'x-trace': 'abc',
      'x-original-size': '42',
      [RedriveHeaders.redrivenFrom]: 'order.start.dlq/1/7',
    });
    // A dead letter that was itself redriven before names only its latest origin.
    const twice = redriveOf(
      record({ headers: { ...r.headers, [RedriveHeaders.redrivenFrom]: 'order.start.dlq/0/1' } }),
    );
    assert.equal(twice.headers[RedriveHeaders.redrivenFrom], 'order.start.dlq/1/7');
  });

  it('turns a selection into the offsets to read and the codes to keep', () => {
    assert.deepEqual(rangesOf(none), [{ partition: null, from: 0, to: Number.MAX_SAFE_INTEGER }]);
    assert.deepEqual(rangesOf({ ...none, partition: 2, from: 5 }), [
      { partition: 2, from: 5, to: Number.MAX_SAFE_INTEGER },
    ]);
    assert.deepEqual(rangesOf({ ...none, offsets: [{ partition: 0, offset: 3 }] }), [{ partition: 0, from: 3, to: 3 }]);
    assert.equal(selected({ ...none, code: 'UNKNOWN_ORDER' }, record()), true);
    assert.equal(selected({ ...none, code: 'INVALID_MESSAGE' }, record()), false);
    assert.equal(selected(none, record()), true);
  });
});
