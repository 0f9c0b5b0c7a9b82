import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { buildStartingServer } from '../../src/api/starting.ts';
import { createMetrics, LAG_CACHE_MS } from '../../src/metrics.ts';
import { Readiness } from '../../src/readiness.ts';
import { apiHarness, postOrder, validOrder, type ApiHarness } from '../helpers/api-app.ts';
import { deferred } from '../helpers/wait.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

describe('GET /healthz', () => {
  test('answers 200 with status ok and the extra fields while store and broker answer', async () => {
    h = await apiHarness({ health: async () => ({ roles: ['api'], status: 'overridden?' }) });
    const res = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { roles: ['api'], status: 'ok' });
  });

  for (const down of ['store', 'broker'] as const) {
    test(`answers 503 when the ${down} cannot be reached`, async () => {
      h = await apiHarness();
      h[down].fail.ping = true;
      const res = await h.app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json(), { status: 'unavailable', error: `${down} unreachable`, waitingFor: [down] });
    });
  }
});

describe('GET /healthz answers from a cached probe', () => {
  test('probes each service once per second at most, and sees an outage once that second is over', async () => {
    h = await apiHarness();
    let pings = 0;
    const ping = h.store.ping.bind(h.store);
    h.store.ping = async () => {
      pings++;
      return ping();
    };
    for (let i = 0; i < 5; i++) assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    assert.equal(pings, 1, 'one probe for five requests within a second');

    h.broker.fail.ping = true;
    assert.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'still the cached answer');
    h.clock.advance(1_000);
    const down = await h.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(down.statusCode, 503);
    assert.deepEqual(down.json(), { status: 'unavailable', error: 'broker unreachable', waitingFor: ['broker'] });
    assert.equal(pings, 2);

    h.broker.fail.ping = false;
    h.clock.advance(1_000);
    assert.equal(
      (await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode,
      200,
      'back once the broker answers',
    );
  });

  test('requests that arrive while a probe is out share it', async () => {
    h = await apiHarness();
    const answer = deferred();
    let pings = 0;
    h.store.ping = async () => {
      pings++;
      await answer.promise;
    };
    const replies = Array.from({ length: 3 }, () => h.app.inject({ method: 'GET', url: '/healthz' }));
    answer.resolve();
    assert.deepEqual(
      (await Promise.all(replies)).map((r) => r.statusCode),
      [200, 200, 200],
    );
    assert.equal(pings, 1);
  });
});

describe('while the role is starting', () => {
  test('/healthz answers 503 starting with what it waits for, /metrics answers, and every other route 503s with nothing recorded', async () => {
    const readiness = new Readiness();
    const metrics = createMetrics();
    const app = await buildStartingServer({ readiness, metrics });
    try {
      const store = deferred();
      const waiting = readiness.during('store', () => store.promise);
      const health = await app.inject({ method: 'GET', url: '/healthz' });
      assert.equal(health.statusCode, 503);
      assert.deepEqual(health.json(), { status: 'starting', waitingFor: ['store'] });

      const order = await app.inject({ method: 'POST', url: '/orders', payload: validOrder });
      assert.equal(order.statusCode, 503);
      assert.deepEqual(order.json(), { error: 'starting: waiting for store' });
      assert.equal(order.headers['retry-after'], '1');
      assert.equal((await app.inject({ method: 'GET', url: '/orders/o-1' })).statusCode, 503);

      const scrape = await app.inject({ method: 'GET', url: '/metrics' });
      assert.equal(scrape.statusCode, 200);
      assert.match(scrape.body, /orders_accepted_total 0/);

      store.resolve();
      await waiting;
      assert.deepEqual((await app.inject({ method: 'GET', url: '/healthz' })).json(), {
        status: 'starting',
        waitingFor: [],
      });
    } finally {
      await app.close();
    }
  });
});

describe('GET /metrics', () => {
  test('serves Prometheus text with orders accepted and requests by route template', async () => {
    h = await apiHarness();
    await postOrder(h.app, validOrder);
    await h.app.inject({ method: 'GET', url: '/orders/o-1' });
    await h.app.inject({ method: 'GET', url: '/nowhere' });
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], h.metrics.registry.contentType);
    assert.match(res.body, /^orders_accepted_total 1$/m);
    assert.match(res.body, /^http_requests_total\{route="\/orders",method="POST",code="202"\} 1$/m);
    assert.match(res.body, /^http_requests_total\{route="\/orders\/:orderId",method="GET",code="200"\} 1$/m);
    assert.match(res.body, /^http_requests_total\{route="unmatched",method="GET",code="404"\} 1$/m);
  });
});

describe('GET /metrics reads consumer lag from a cache', () => {
  const scrape = async () => {
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    return res.body;
  };

  test('scrapes within LAG_CACHE_MS ask the broker once, and the next window asks again', async () => {
    h = await apiHarness();
    let calls = 0;
    let lag = 7;
    h.metrics.trackConsumerLag(async () => {
      calls++;
      return [{ group: 'stock-service', topic: 'order.start', partition: 0, lag }];
    }, h.clock);
    assert.match(await scrape(), /^kafka_consumer_lag\{group="stock-service",topic="order\.start",partition="0"\} 7$/m);
    lag = 3;
    h.clock.advance(LAG_CACHE_MS - 1);
    assert.match(await scrape(), /partition="0"\} 7$/m, 'the cached reading');
    assert.equal(calls, 1, 'two scrapes within the window, one query');
    h.clock.advance(1);
    assert.match(await scrape(), /partition="0"\} 3$/m);
    assert.equal(calls, 2);
  });

  test('scrapes that arrive while a query is out share it, and a failed query is not repeated within the window', async () => {
    h = await apiHarness();
    let calls = 0;
    const answer = deferred<{ group: string; topic: string; partition: number; lag: number }[]>();
    h.metrics.trackConsumerLag(() => {
      calls++;
      return answer.promise;
    }, h.clock);
    const scrapes = [scrape(), scrape(), scrape()];
    answer.resolve([{ group: 'order-service', topic: 'order.start', partition: 1, lag: 2 }]);
    for (const body of await Promise.all(scrapes)) assert.match(body, /partition="1"\} 2$/m);
    assert.equal(calls, 1);

    h.clock.advance(LAG_CACHE_MS);
    const down = deferred<never>();
    h.metrics.trackConsumerLag(() => {
      calls++;
      return down.promise;
    }, h.clock);
    down.reject(new Error('broker away'));
    await scrape();
    await scrape();
    assert.equal(calls, 3, 'one query per source in the new window, the failed one included, not one per scrape');
  });
});

describe('rate limit', () => {
  test('answers 429 with Retry-After over RATE_LIMIT_PER_SEC per address, and recovers when the clock moves 1 s', async () => {
    h = await apiHarness({ rateLimitPerSec: 2 });
    const from = (remoteAddress: string) =>
      h.app.inject({ method: 'POST', url: '/orders', payload: validOrder, remoteAddress });
    assert.equal((await from('10.0.0.1')).statusCode, 202);
    assert.equal((await from('10.0.0.1')).statusCode, 202);
    const over = await from('10.0.0.1');
    assert.equal(over.statusCode, 429);
    assert.deepEqual(over.json(), { error: 'rate limit exceeded' });
    assert.equal(over.headers['retry-after'], '1');
    assert.equal((await from('10.0.0.2')).statusCode, 202, 'another address has its own allowance');
    assert.equal(h.store.orders.size, 3);

    h.clock.advance(1000);
    assert.equal((await from('10.0.0.1')).statusCode, 202);
  });

  test('counts an IPv6 client by its /64 and an IPv4-mapped address as the IPv4 address', async () => {
    h = await apiHarness({ rateLimitPerSec: 1 });
    const from = (remoteAddress: string) =>
      h.app.inject({ method: 'POST', url: '/orders', payload: validOrder, remoteAddress });
    assert.equal((await from('2001:db8:1:2::1')).statusCode, 202);
    assert.equal((await from('2001:db8:1:2::2')).statusCode, 429, 'a new address in the same /64 is the same client');
    assert.equal((await from('2001:db8:1:3::1')).statusCode, 202, 'the next /64 is another client');
    assert.equal((await from('1.2.3.4')).statusCode, 202);
    assert.equal((await from('::ffff:1.2.3.4')).statusCode, 429, 'the mapped spelling of the same IPv4 client');
  });

  test('does not limit other routes, and 0 turns it off', async () => {
    h = await apiHarness({ rateLimitPerSec: 1 });
    await postOrder(h.app, validOrder);
    for (let i = 0; i < 3; i++)
      assert.equal((await h.app.inject({ method: 'GET', url: '/orders/o-1' })).statusCode, 200);
    await h.app.close();

    h = await apiHarness({ rateLimitPerSec: 0 });
    for (let i = 0; i < 5; i++) assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
  });
});

describe('errors', () => {
  test('an unknown route answers 404 in the error shape', async () => {
    h = await apiHarness();
    const res = await h.app.inject({ method: 'GET', url: '/nowhere' });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: 'not found' });
  });

  test('a 5xx hides what went wrong inside', async () => {
    h = await apiHarness();
    h.app.get('/boom', async () => {
      throw new Error('password=hunter2 at db.internal:5432');
    });
    const res = await h.app.inject({ method: 'GET', url: '/boom' });
    assert.equal(res.statusCode, 500);
    assert.deepEqual(res.json(), { error: 'internal server error' });
  });
});
