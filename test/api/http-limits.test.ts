// HTTP_REQUEST_TIMEOUT_MS on a real listening socket: the door (what main.ts listens on)
// and the api listening by itself both answer a request that does not arrive in time
// with 408 and close the connection.
import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, test } from 'node:test';
import { openDoor, type Door } from '../../src/api/door.ts';
import { buildStartingServer } from '../../src/api/starting.ts';
import { createMetrics } from '../../src/metrics.ts';
import { Readiness } from '../../src/readiness.ts';
import { apiHarness, validOrder, type ApiHarness } from '../helpers/api-app.ts';
import { withTimeout } from '../helpers/wait.ts';

const TIMEOUT_MS = 200;

let h: ApiHarness | undefined;
let door: Door | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await door?.close();
  await h?.app.close();
  door = undefined;
  h = undefined;
});

type Listen = () => Promise<number>;
const listeners: [string, Listen][] = [
  [
    'the door',
    async () => {
      h = await apiHarness({ requestTimeoutMs: TIMEOUT_MS });
      door = await openDoor({
        port: 0,
        host: '127.0.0.1',
        variable: 'PORT',
        app: h.app,
        requestTimeoutMs: TIMEOUT_MS,
      });
      await door.serve(h.app);
      return door.port;
    },
  ],
  [
    'the api listening itself',
    async () => {
      h = await apiHarness({ requestTimeoutMs: TIMEOUT_MS });
      await h.app.listen({ port: 0, host: '127.0.0.1' });
      return (h.app.server.address() as AddressInfo).port;
    },
  ],
];

/** A raw client: everything the server sent, and when the connection closed. */
function rawClient(port: number): { socket: Socket; received: () => string; closed: Promise<number> } {
  const socket = connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  socket.on('error', () => {}); // writes after the server closed: EPIPE is expected here
  let data = '';
  socket.on('data', (chunk) => (data += chunk.toString('utf8')));
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  return { socket, received: () => data, closed };
}

const HEADERS_100 = 'POST /orders HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n';

for (const [name, listen] of listeners) {
  describe(`request timeout on ${name}`, () => {
    test('a body announced as 100 bytes of which 4 arrive gets 408 and the connection closes', async () => {
      const port = await listen();
      const client = rawClient(port);
      const started = performance.now();
      client.socket.write(`${HEADERS_100}{"us`);
      const closedAt = await withTimeout(client.closed, 'the server to close the connection', 10 * TIMEOUT_MS);
      assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.match(client.received(), /\r\nconnection: close\r\n/i);
      const body = JSON.parse(client.received().split('\r\n\r\n')[1]!);
      assert.deepEqual(body, {
        error: `request timeout: headers and body must arrive within ${TIMEOUT_MS} ms`,
      });
      assert.ok(closedAt - started >= TIMEOUT_MS * 0.9, `closed after ${closedAt - started} ms, not before the limit`);
      assert.equal(h!.store.orders.size, 0, 'nothing recorded');
    });

    test('a connection that sends nothing gets 408 and is closed', async () => {
      const port = await listen();
      const client = rawClient(port);
      await withTimeout(client.closed, 'the server to close the connection', 10 * TIMEOUT_MS);
      assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    });

    test('headers trickled one byte at a time get 408 and the connection closes', async () => {
      const port = await listen();
      const client = rawClient(port);
      const request = `${HEADERS_100}${JSON.stringify(validOrder)}`;
      let sent = 0;
      // The slow client itself: one byte every 20 ms, far slower than the limit allows.
      const trickle = setInterval(() => {
        if (client.socket.destroyed || sent >= request.length) return;
        client.socket.write(request[sent++]!);
      }, 20);
      try {
        await withTimeout(client.closed, 'the server to close the connection', 10 * TIMEOUT_MS);
      } finally {
        clearInterval(trickle);
      }
      assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
      assert.ok(sent < HEADERS_100.length, `closed while still sending headers (${sent} bytes sent)`);
    });

    test('a request that arrives in time is answered, and a long-poll may outlast the limit', async () => {
      const port = await listen();
      const base = `http://127.0.0.1:${port}`;
      const res = await fetch(`${base}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(validOrder),
      });
      assert.equal(res.status, 202);
      const { orderId } = (await res.json()) as { orderId: string };
      // The request is complete once its headers are in; holding the answer is not the client's delay.
      const held = await fetch(`${base}/orders/${orderId}?wait=${3 * TIMEOUT_MS}`);
      assert.equal(held.status, 200);
      assert.equal(((await held.json()) as { status: string }).status, 'PENDING');
    });
  });
}

test('the door keeps the limit while the role is still starting', async () => {
  const starting = await buildStartingServer({ readiness: new Readiness(), metrics: createMetrics() });
  door = await openDoor({ port: 0, host: '127.0.0.1', variable: 'PORT', app: starting, requestTimeoutMs: TIMEOUT_MS });
  const client = rawClient(door.port);
  client.socket.write(`${HEADERS_100}{"us`);
  await withTimeout(client.closed, 'the server to close the connection', 10 * TIMEOUT_MS);
  assert.match(client.received(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
});

test('a bad request line gets 400 in the error shape and the connection closes', async () => {
  const port = await listeners[0]![1]();
  const client = rawClient(port);
  client.socket.write('NOT HTTP AT ALL\r\n\r\n');
  await withTimeout(client.closed, 'the server to close the connection');
  assert.match(client.received(), /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.deepEqual(JSON.parse(client.received().split('\r\n\r\n')[1]!), { error: 'malformed HTTP request' });
});
