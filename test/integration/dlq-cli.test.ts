/**
 * `npm run dlq` against a real Kafka: dead letters written the way the adapter writes
 * them (adapters/broker/kafka/dlq.ts), then the CLI as a child process lists, shows and
 * redrives them. Every run has its own topic prefix; waits are on deliveries.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaBroker, type KafkaBroker } from '../../adapters/broker/kafka.ts';
import { deadLetter } from '../../adapters/broker/kafka/dlq.ts';
import { TopicNames } from '../../adapters/broker/kafka/topic-names.ts';
import { InvalidMessageError, UnknownOrderError } from '../../src/errors.ts';
import { DlqHeaders, RedriveHeaders, type Delivery, type Subscription } from '../../src/ports/broker.ts';
import { dlqOf, Topics, type TopicName } from '../../src/topics.ts';
import { deleteTopics, findKafka, publishRaw, uniquePrefix } from '../helpers/kafka.ts';
import { Recorder } from '../helpers/wait.ts';

const found = await findKafka();
const brokers = found.endpoint?.brokers ?? [];
const root = new URL('../..', import.meta.url).pathname;
const run = promisify(execFile);
const SLOW_MS = 30_000;

interface Written {
  topic: TopicName;
  key: string;
  value: string;
  code: string;
  partition: number;
  offset: number;
}

describe('npm run dlq on Kafka', { skip: found.skip }, () => {
  const prefix = uniquePrefix();
  const names = new TopicNames(prefix);
  const env = { ...process.env, KAFKA_BROKERS: brokers.join(','), TOPIC_PREFIX: prefix, LOG_LEVEL: 'silent' };
  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/dlq/cli.ts', ...args], {
        cwd: root,
        env,
        timeout: SLOW_MS,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const admin = new Kafka({ clientId: 'dlq-cli-test', brokers, logLevel: logLevel.NOTHING }).admin();
  const endOffsets = async (topic: TopicName): Promise<number> =>
    (await admin.fetchTopicOffsets(names.physical(topic))).reduce((n, p) => n + Number(p.high), 0);
  let broker: KafkaBroker;
  const written: Written[] = [];

  /** A dead letter exactly as the adapter writes it for a message of `topic` refused with `err`. */
  async function deadLettered(topic: TopicName, key: string, value: string, err: Error & { code: string }) {
    const from: Delivery = {
      topic,
      partition: 1,
      offset: 40 + written.length,
      key,
      value: null,
      headers: { 'x-trace': `trace-${key}` },
      attempt: 1,
    };
    const record = deadLetter(names, from, Buffer.from(value), from.headers, err);
    const meta = await publishRaw(brokers, record.topic, {
      key: record.key,
      value: (record.value ?? Buffer.alloc(0)).toString(),
      headers: record.headers!,
    });
    written.push({ topic, key, value, code: err.code, partition: meta.partition, offset: Number(meta.baseOffset) });
  }

  before(async () => {
    broker = await createKafkaBroker({ brokers, partitions: 3, topicPrefix: prefix });
    await admin.connect();
    const start = (orderId: string) =>
      JSON.stringify({ v: 1, orderId, userId: 'u1', items: [{ productId: 'p1', quantity: 1 }] });
    await deadLettered(Topics.orderStart, 'o-bad-1', 'not json {', new InvalidMessageError('value is not JSON'));
    await deadLettered(Topics.orderStart, 'o-bad-2', '{"v":1}', new InvalidMessageError('orderId: required'));
    await deadLettered(Topics.orderStart, 'o-gone', start('o-gone'), new UnknownOrderError('o-gone'));
    await deadLettered(
      Topics.paymentRefund,
      'o-late',
      '{"v":1,"orderId":"o-late","userId":"u1"}',
      new UnknownOrderError('o-late'),
    );
  });

  after(async () => {
    await broker?.close();
    await admin.disconnect();
    await deleteTopics(brokers, prefix);
  });

  it(
    'lists each dead-letter topic and error code with count and first and last time',
    { timeout: SLOW_MS },
    async () => {
      const res = await cli('list', '--json');
      assert.equal(res.code, 0, res.stderr);
      const rows = res.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { topic: string; code: string; count: number; first: string; last: string });
      assert.deepEqual(
        rows.map(({ topic, code, count }) => ({ topic, code, count })),
        [
          { topic: dlqOf(Topics.orderStart), code: 'INVALID_MESSAGE', count: 2 },
          { topic: dlqOf(Topics.orderStart), code: 'UNKNOWN_ORDER', count: 1 },
          { topic: dlqOf(Topics.paymentRefund), code: 'UNKNOWN_ORDER', count: 1 },
        ],
      );
      for (const r of rows) {
        assert.ok(Date.parse(r.first) <= Date.parse(r.last), `${r.first} <= ${r.last}`);
        assert.ok(Date.now() - Date.parse(r.last) < 10 * 60_000, 'message timestamps, recent');
      }
      const table = await cli('list');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^TOPIC\s+CODE\s+COUNT\s+FIRST\s+LAST\n/);
      assert.match(table.stdout, /order\.start\.dlq\s+INVALID_MESSAGE\s+2\s/);
    },
  );

  it('shows one dead letter: headers and value, raw when it is not JSON', { timeout: SLOW_MS }, async () => {
    const bad = written[0]!;
    const res = await cli('show', dlqOf(Topics.orderStart), String(bad.partition), String(bad.offset));
    assert.equal(res.code, 0, res.stderr);
    const shown = JSON.parse(res.stdout) as Record<string, any>;
    assert.equal(shown.key, 'o-bad-1');
    assert.equal(shown.rawValue, 'not json {');
    assert.equal(shown.headers[DlqHeaders.errorCode], 'INVALID_MESSAGE');
    assert.equal(shown.headers[DlqHeaders.sourceTopic], Topics.orderStart);
    assert.equal(shown.headers['x-trace'], 'trace-o-bad-1');
    const gone = written[2]!;
    const json = JSON.parse((await cli('show', 'order.start', String(gone.partition), String(gone.offset))).stdout);
    assert.equal(json.value.orderId, 'o-gone');
    const missing = await cli('show', 'order.start', String(gone.partition), '999');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no dead letter at order\.start\.dlq/);
  });

  it('a dry run prints the selection and sends nothing', { timeout: SLOW_MS }, async () => {
    const before = await endOffsets(Topics.orderStart);
    const res = await cli('redrive', '--topic', 'order.start', '--code', 'INVALID_MESSAGE', '--dry-run');
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.equal(lines.filter((l) => l.startsWith('would send order.start.dlq/')).length, 2, res.stdout);
    assert.match(res.stdout, /dry run: 2 dead letters of order\.start\.dlq selected, nothing sent/);
    assert.equal(await endOffsets(Topics.orderStart), before, 'nothing reached order.start');
  });

  it(
    'redrives the selection onto its topic with its key, value and original headers',
    { timeout: SLOW_MS },
    async () => {
      const seen = new Recorder<Delivery>();
      let sub: Subscription | undefined;
      try {
        sub = await broker.subscribe({
          group: `${prefix}redrive-check`,
          topics: [Topics.orderStart],
          handler: async (d) => seen.push(d),
        });
        const before = await endOffsets(Topics.orderStart);
        const res = await cli('redrive', '--topic', 'order.start.dlq', '--code', 'UNKNOWN_ORDER');
        assert.equal(res.code, 0, res.stderr);
        const gone = written[2]!;
        assert.match(
          res.stdout,
          new RegExp(
            `^sent order\\.start\\.dlq/${gone.partition}/${gone.offset} -> order\\.start key=o-gone code=UNKNOWN_ORDER$`,
            'm',
          ),
        );
        assert.match(res.stdout, /redriven: 1 dead letters of order\.start\.dlq/);
        const [d] = await seen.count(1, 'redriven deliveries', SLOW_MS);
        assert.equal(d!.key, 'o-gone');
        assert.deepEqual(d!.value, JSON.parse(gone.value));
        assert.equal(d!.headers['x-trace'], 'trace-o-gone');
        assert.equal(d!.headers[RedriveHeaders.redrivenFrom], `order.start.dlq/${gone.partition}/${gone.offset}`);
        for (const h of Object.values(DlqHeaders)) assert.equal(d!.headers[h], undefined, h);
        assert.equal(await endOffsets(Topics.orderStart), before + 1, 'exactly the one selected');
      } finally {
        await sub?.close();
      }
    },
  );

  it(
    'a redriven message meets the same checks: one that is not JSON is dead-lettered again',
    { timeout: SLOW_MS },
    async () => {
      const again = new Recorder<Delivery>();
      const subs: Subscription[] = [];
      try {
        // The consumer of order.start refuses the value before any handler sees it, as every role's would.
        subs.push(
          await broker.subscribe({ group: `${prefix}consumer`, topics: [Topics.orderStart], handler: async () => {} }),
        );
        subs.push(
          await broker.subscribe({
            group: `${prefix}dlq-watch`,
            topics: [dlqOf(Topics.orderStart) as never],
            handler: async (d) => again.push(d),
          }),
        );
        const bad = written[0]!;
        const res = await cli('redrive', '--topic', 'order.start', '--offset', `${bad.partition}:${bad.offset}`);
        assert.equal(res.code, 0, res.stderr);
        const from = `order.start.dlq/${bad.partition}/${bad.offset}`;
        const [d] = await again.until(
          (items) => items.some((x) => x.headers[RedriveHeaders.redrivenFrom] === from),
          'the redriven message back in order.start.dlq',
          SLOW_MS,
        );
        assert.equal(d!.key, 'o-bad-1');
        assert.equal(d!.value, 'not json {');
        assert.equal(d!.headers[DlqHeaders.errorCode], 'INVALID_MESSAGE');
        assert.equal(d!.headers['x-trace'], 'trace-o-bad-1');
      } finally {
        for (const sub of subs) await sub.close();
      }
    },
  );

  it('refuses bad arguments with one line and exit 2', { timeout: SLOW_MS }, async () => {
    const res = await cli('redrive', '--topic', 'order.strat');
    assert.equal(res.code, 2);
    assert.equal(res.stderr.trim().split('\n').length, 1);
    assert.match(res.stderr, /^dlq: topic "order.strat"/);
  });
});
