import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ManualClock } from '../../src/clock.ts';
import { BrokerUnavailableError, ConfigError, StoreUnavailableError } from '../../src/errors.ts';
import { Readiness } from '../../src/readiness.ts';
import { waitFor } from '../../src/wait-for.ts';
import { deferred } from '../helpers/wait.ts';

/** A logger whose lines land in an array. */
function capture() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** A sleep that moves the manual clock instead of waiting, and records each delay. */
function fakeSleep(clock: ManualClock) {
  const delays: number[] = [];
  return {
    delays,
    sleep: async (ms: number) => {
      delays.push(ms);
      clock.advance(ms);
    },
  };
}

describe('waitFor', () => {
  it('retries a retriable failure with capped backoff until the service answers', async () => {
    const clock = new ManualClock();
    const { logger, lines } = capture();
    const { delays, sleep } = fakeSleep(clock);
    let calls = 0;
    const value = await waitFor(
      'the store',
      async () => {
        if (++calls < 8) throw new StoreUnavailableError('redis at 127.0.0.1:1 did not answer');
        return 'connected';
      },
      { logger, clock, sleep, policy: { initialMs: 100, maxMs: 1_000, factor: 2 } },
    );
    assert.equal(value, 'connected');
    assert.equal(calls, 8);
    assert.deepEqual(delays, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
    assert.match(lines.at(-1)!.msg, /the store answered/);
  });

  it('logs one waiting line every few seconds, not one per attempt', async () => {
    const clock = new ManualClock();
    const { logger, lines } = capture();
    const { sleep } = fakeSleep(clock);
    let calls = 0;
    await waitFor(
      'the broker',
      async () => {
        if (++calls <= 30) throw new BrokerUnavailableError('Kafka at 127.0.0.1:1 did not answer');
      },
      { logger, clock, sleep, policy: { initialMs: 500, maxMs: 500, factor: 1 }, logEveryMs: 5_000 },
    );
    // 30 failures 500 ms apart span 15 s: a line at 0, 5, 10 s (and 15 s is the success).
    const waiting = lines.filter((l) => l.msg.startsWith('waiting for the broker'));
    assert.equal(waiting.length, 3);
    assert.deepEqual(
      waiting.map((l) => l.waitedMs),
      [0, 5_000, 10_000],
    );
    assert.equal(waiting[0]!.level, 40);
    assert.equal(waiting[0]!.code, 'BROKER_UNAVAILABLE');
    assert.match(waiting[0]!.msg, /Kafka at 127\.0\.0\.1:1 did not answer/);
  });

  it('stops at once on a configuration error or a bug: waiting cannot fix those', async () => {
    const clock = new ManualClock();
    const { logger } = capture();
    const { delays, sleep } = fakeSleep(clock);
    const config = new ConfigError('Kafka topics consumed by the order saga must have equal partition counts');
    await assert.rejects(
      waitFor('the broker', () => Promise.reject(config), { logger, clock, sleep }),
      (err) => err === config,
    );
    await assert.rejects(
      waitFor('the broker', () => Promise.reject(new TypeError('bug')), { logger, clock, sleep }),
      TypeError,
    );
    assert.deepEqual(delays, []);
  });

  it('gives up when its signal is aborted, also in the middle of a backoff', async () => {
    const clock = new ManualClock();
    const { logger } = capture();
    const abort = new AbortController();
    const failed = deferred();
    const waiting = waitFor(
      'the store',
      async () => {
        failed.resolve();
        throw new StoreUnavailableError();
      },
      { logger, clock, signal: abort.signal, policy: { initialMs: 60_000, maxMs: 60_000, factor: 1 } },
    );
    await failed.promise;
    abort.abort(new Error('SIGTERM while starting'));
    await assert.rejects(waiting, /SIGTERM while starting/);
  });
});

describe('Readiness', () => {
  it('lists a service while a step waits for it, and drops it when the step settles', async () => {
    const r = new Readiness();
    const store = deferred<string>();
    const broker = deferred<string>();
    const a = r.during('store', () => store.promise);
    const b = r.during('broker', () => broker.promise);
    assert.deepEqual(r.waitingFor(), ['broker', 'store']);
    store.resolve('ok');
    await a;
    assert.deepEqual(r.waitingFor(), ['broker']);
    broker.reject(new Error('gave up'));
    await assert.rejects(b);
    assert.deepEqual(r.waitingFor(), []);
    assert.equal(r.isReady, false);
    r.markReady();
    assert.equal(r.isReady, true);
  });
});
