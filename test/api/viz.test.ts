import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { Writable } from 'node:stream';
import { createSseHub } from '../../src/api/sse.ts';
import { OrderStatuses } from '../../src/schemas.ts';
import { apiHarness, postOrder, validOrder, type ApiHarness } from '../helpers/api-app.ts';
import { Recorder, withTimeout } from '../helpers/wait.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

/** Reads `data:` events of an SSE response, one at a time. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    async next(): Promise<any> {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data) return JSON.parse(data.slice('data: '.length));
          continue;
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buffer += decoder.decode(value, { stream: true });
      }
    },
    /** Resolves once the server ends the stream. */
    async ended(): Promise<void> {
      while (!(await reader.read()).done);
    },
  };
}

async function listening(): Promise<string> {
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
}

describe('GET /viz', () => {
  test('serves the live page with every state of the machine, and no asset from elsewhere', async () => {
    h = await apiHarness();
    const res = await h.app.inject({ method: 'GET', url: '/viz' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/html/);
    for (const s of OrderStatuses) assert.ok(res.body.includes(`<title>${s}</title>`), `diagram has ${s}`);
    assert.match(res.body, /new EventSource\('\/viz\/events'\)/);
    assert.doesNotMatch(res.body, /(src|href)=["']?(https?:)?\/\//, 'nothing loaded from another origin');
    assert.match(res.headers['content-security-policy'] as string, /default-src 'none'/);
  });

  test('serves the diagram as SVG', async () => {
    h = await apiHarness();
    const res = await h.app.inject({ method: 'GET', url: '/viz/diagram.svg' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^image\/svg\+xml/);
    assert.match(res.body, /<svg[\s\S]*<title>COMPENSATING<\/title>[\s\S]*<\/svg>/);
  });
});

describe('GET /viz/events', () => {
  test('sends the status counts on connect and again when they move', async () => {
    h = await apiHarness();
    const url = await listening();
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
    const abort = new AbortController();
    const res = await fetch(`${url}/viz/events`, { signal: abort.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^text\/event-stream/);
    const events = sseReader(res.body!);
    const first = await withTimeout(events.next(), 'the first event');
    assert.deepEqual(first.counts, await h.store.statusCounts());
    assert.equal(first.counts.PENDING, 1);
    assert.equal(first.at, new Date(h.clock.now()).toISOString());

    h.store.setStatus('o-1', 'COMPLETED');
    for (;;) {
      const next = await withTimeout(events.next(), 'an event with the order completed');
      if (next.counts.COMPLETED === 1 && next.counts.PENDING === 0) break;
    }
    abort.abort();
  });

  test('ends open streams when the server closes, so close() does not hang', async () => {
    h = await apiHarness();
    const url = await listening();
    const res = await fetch(`${url}/viz/events`);
    const events = sseReader(res.body!);
    await withTimeout(events.next(), 'the first event');
    await withTimeout(h.app.close(), 'app.close() with a stream open');
    await withTimeout(events.ended(), 'the stream to end');
  });

  test('says the store is unreachable instead of failing the stream', async () => {
    h = await apiHarness();
    const url = await listening();
    h.store.fail.read = true;
    const abort = new AbortController();
    const res = await fetch(`${url}/viz/events`, { signal: abort.signal });
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = '';
    while (!seen.includes('event: unavailable')) {
      const { value } = await withTimeout(reader.read(), 'an unavailable event');
      seen += decoder.decode(value, { stream: true });
    }
    abort.abort();
  });
});

describe('GET /viz/events per client', () => {
  test('answers 429 to the stream past MAX_WAITS_PER_CLIENT, long-polls counted with the streams', async () => {
    h = await apiHarness({ maxWaitsPerClient: 2 });
    const url = await listening();
    assert.equal((await postOrder(h.app, validOrder)).statusCode, 202);
    const abort = new AbortController();
    const open = async () => {
      const res = await fetch(`${url}/viz/events`, { signal: abort.signal });
      assert.equal(res.status, 200);
      await withTimeout(sseReader(res.body!).next(), 'the first event');
    };
    try {
      await open();
      await open();
      const over = await fetch(`${url}/viz/events`);
      assert.equal(over.status, 429);
      assert.equal(over.headers.get('retry-after'), '1');
      assert.deepEqual(await over.json(), {
        error: 'too many open waits from this client: at most 2 long-polls and /viz/events streams at a time',
      });
      const poll = await fetch(`${url}/orders/o-1?wait=30000`);
      assert.equal(poll.status, 429, 'a long-poll takes the same slots');
      await poll.body?.cancel();
    } finally {
      abort.abort();
    }
  });
});

/** A stream whose reader never reads: every write after the first stays in its buffer. */
function neverRead(highWaterMark: number) {
  const closed = new Recorder<true>();
  const stream = new Writable({ highWaterMark, decodeStrings: false, write() {} });
  stream.once('close', () => closed.push(true));
  return { stream, closed };
}

describe('the SSE hub', () => {
  test('drops a client that does not read once its unread bytes pass the bound, and keeps one that does', async () => {
    const drops: number[] = [];
    const hub = createSseHub({ bufferLimitBytes: 1_000, onDrop: (unread) => drops.push(unread) });
    const stalled = neverRead(100);
    const reading = new Writable({ highWaterMark: 100, decodeStrings: false, write: (_c, _e, done) => done() });
    const left: string[] = [];
    hub.add(stalled.stream, () => left.push('stalled'));
    hub.add(reading, () => left.push('reading'));

    const frame = `data: ${'x'.repeat(92)}\n\n`; // 100 bytes
    for (let i = 0; i < 10; i++) hub.broadcast(frame);
    assert.equal(stalled.stream.destroyed, false, 'at the bound, not past it: still there');
    assert.equal(hub.size, 2);
    hub.broadcast(frame);
    await stalled.closed.count(1, 'the stalled stream destroyed');
    assert.equal(stalled.stream.destroyed, true);
    assert.deepEqual(left, ['stalled'], 'its slot is given back once');
    assert.deepEqual(drops, [1_100]);
    assert.equal(hub.size, 1);
    assert.equal(hub.send(stalled.stream, frame), false, 'nothing more is written to it');

    for (let i = 0; i < 100; i++) hub.broadcast(frame);
    assert.equal(reading.destroyed, false, 'a client that reads is never dropped');
    hub.endAll();
    assert.deepEqual(left, ['stalled', 'reading']);
  });
});
