import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { apiHarness, postOrder, validOrder, type ApiHarness } from '../helpers/api-app.ts';
import { Recorder } from '../helpers/wait.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

async function withOrder(): Promise<ApiHarness> {
  h = await apiHarness();
  assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
  return h;
}

const get = (url: string) => h.app.inject({ method: 'GET', url });

describe('GET /orders/{orderId}', () => {
  test('answers 200 with the stored view', async () => {
    await withOrder();
    h.store.setStatus('o-1', 'RESERVING');
    const res = await get('/orders/o-1');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), h.store.views.get('o-1'));
    assert.deepEqual(Object.keys(res.json()).sort(), ['history', 'items', 'orderId', 'status', 'userId']);
    assert.deepEqual(res.json().history[0], { status: 'PENDING', at: new Date(h.clock.now()).toISOString() });
  });

  test('answers 404 for an unknown order', async () => {
    h = await apiHarness();
    const res = await get('/orders/nope');
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: 'order not found' });
  });

  test('answers 400 with details for an id with bad characters', async () => {
    h = await apiHarness();
    const res = await get('/orders/bad%20id');
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      error: 'invalid orderId',
      details: ['orderId: must match ^[A-Za-z0-9_.:-]{1,64}$'],
    });
  });

  test('answers 503 when the store cannot be read', async () => {
    await withOrder();
    h.store.fail.read = true;
    const res = await get('/orders/o-1');
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { error: 'store unavailable' });
  });
});

describe('GET /orders/{orderId}?wait=MS', () => {
  for (const wait of ['30001', '-1', 'abc', '1.5', '']) {
    test(`answers 400 for wait=${wait}`, async () => {
      await withOrder();
      const res = await get(`/orders/o-1?wait=${wait}`);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: 'invalid query', details: ['wait: must be an integer from 0 to 30000'] });
    });
  }

  test('wait=0 answers at once with the current state', async () => {
    await withOrder();
    const res = await get('/orders/o-1?wait=0');
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'PENDING');
    assert.equal(h.store.watchers('o-1'), 0);
  });

  test('answers at once when the order is already terminal', async () => {
    await withOrder();
    h.store.setStatus('o-1', 'COMPLETED');
    const res = await get('/orders/o-1?wait=30000');
    assert.equal(res.json().status, 'COMPLETED');
    assert.equal(h.store.watchers('o-1'), 0);
  });

  test('holds the answer until the order is terminal, then unsubscribes', async () => {
    await withOrder();
    const pending = Promise.resolve(get('/orders/o-1?wait=30000'));
    await h.store.watched('o-1');
    h.store.setStatus('o-1', 'RESERVING');
    h.store.setStatus('o-1', 'CANCELLED');
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'CANCELLED');
    assert.deepEqual(res.json().reason, { code: 'TIMEOUT', message: 'timed out' });
    assert.equal(h.store.watchers('o-1'), 0);
  });

  test('answers with the current state once MS have passed', async () => {
    await withOrder();
    const pending = Promise.resolve(get('/orders/o-1?wait=20'));
    await h.store.watched('o-1');
    h.store.setStatus('o-1', 'PAYING');
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'PAYING');
    assert.equal(h.store.watchers('o-1'), 0);
  });

  test('answers 404 for an unknown order without waiting', async () => {
    h = await apiHarness();
    const res = await get('/orders/ghost?wait=30000');
    assert.equal(res.statusCode, 404);
    assert.equal(h.store.watchers('ghost'), 0);
  });

  test('answers open long-polls with the current state when the server closes', async () => {
    await withOrder();
    const pending = Promise.resolve(get('/orders/o-1?wait=30000'));
    await h.store.watched('o-1');
    await h.app.close();
    const res = await pending;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'PENDING');
    assert.equal(h.store.watchers('o-1'), 0);
  });

  test('stops waiting and unsubscribes when the client disconnects', async () => {
    await withOrder();
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = h.app.server.address() as AddressInfo;
    const req = httpRequest({ host: '127.0.0.1', port, path: '/orders/o-1?wait=30000' });
    req.on('error', () => {});
    req.end();
    await h.store.watched('o-1');
    req.destroy();
    await h.store.unwatched('o-1');
    assert.equal(h.store.watchers('o-1'), 0);
  });

  test('answers 429 to the long-poll past MAX_WAITS_PER_CLIENT from one client while the others are open', async () => {
    h = await apiHarness({ maxWaitsPerClient: 2 });
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
    const watches = new Recorder<string>();
    const watch = h.store.watch.bind(h.store);
    h.store.watch = async (orderId, listener) => {
      const unwatch = await watch(orderId, listener);
      watches.push(orderId);
      return unwatch;
    };
    const from = (remoteAddress: string, wait = 30_000) =>
      Promise.resolve(h.app.inject({ method: 'GET', url: `/orders/o-1?wait=${wait}`, remoteAddress }));

    const held = [from('2001:db8::1'), from('2001:db8::2')];
    await watches.count(2, 'long-polls holding');
    const over = await from('2001:db8::3'); // the same /64: the same client
    assert.equal(over.statusCode, 429);
    assert.deepEqual(over.json(), {
      error: 'too many open waits from this client: at most 2 long-polls and /viz/events streams at a time',
    });
    assert.equal(over.headers['retry-after'], '1');
    assert.equal(h.store.watchers('o-1'), 2, 'the refused one never watched');
    assert.equal((await from('2001:db8::9', 0)).statusCode, 200, 'wait=0 holds nothing and is not refused');
    const other = from('10.0.0.2'); // another client has its own slots
    await watches.count(3, 'the other client holding');

    h.store.setStatus('o-1', 'COMPLETED');
    assert.deepEqual(
      (await Promise.all([...held, other])).map((r) => r.statusCode),
      [200, 200, 200],
    );
    assert.equal((await from('2001:db8::3')).statusCode, 200, 'answered long-polls give their slots back');
  });
});
