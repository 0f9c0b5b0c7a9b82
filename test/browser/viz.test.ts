/**
 * The live view in a real browser: Debian's chromium driven by playwright-core, against
 * `tsx src/main.ts all`. Places a burst of orders and waits on the page's DOM (never on
 * the clock) until its counts move, then follows one order and checks its path is lit.
 * Skips with one line when chromium is missing, unless REQUIRE_INTEGRATION=1.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, startProcess, type RunningProcess } from '../blackbox/client.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HOW = 'install it with: apt-get update && apt-get install -y chromium';
const present = existsSync(CHROMIUM);
const WAIT = { timeout: 20_000 };

if (!present && process.env.REQUIRE_INTEGRATION === '1') {
  throw new Error(`REQUIRE_INTEGRATION=1 but ${CHROMIUM} is missing; ${HOW}`);
}

const skip = present ? false : `chromium not found at ${CHROMIUM}; ${HOW}`;

describe('GET /viz in a browser', () => {
  let proc: RunningProcess;
  let browser: import('playwright-core').Browser;

  before(async () => {
    if (skip) return;
    const { chromium } = await import('playwright-core');
    proc = await startProcess({});
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await proc?.stop();
  });

  it("shows live counts that move with a burst of orders, and lights up one order's path", { skip }, async () => {
    const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
    const foreign: string[] = [];
    page.on('request', (r) => void (r.url().startsWith(proc.url) || foreign.push(r.url())));
    const total = (s: string) => page.$eval(`[data-count="${s}"]`, (e) => Number(e.textContent));

    await page.goto(`${proc.url}/viz`);
    await page.waitForFunction(
      () => document.querySelector('[data-count="COMPLETED"]')?.textContent !== '–',
      null,
      WAIT,
    );
    const base = {
      COMPLETED: await total('COMPLETED'),
      REJECTED: await total('REJECTED'),
      CANCELLED: await total('CANCELLED'),
    };

    const client = new Client(proc.url);
    const burst = [
      ...Array.from({ length: 8 }, () => client.placeOrder('u1', [{ productId: 'p1', quantity: 1 }])), // paid
      ...Array.from({ length: 4 }, () => client.placeOrder('u1', [{ productId: 'p5', quantity: 1 }])), // p5 has no stock
      ...Array.from({ length: 4 }, () => client.placeOrder('u3', [{ productId: 'p1', quantity: 1 }])), // u3 cannot pay
    ];
    const ids = await Promise.all(burst);
    const want = { COMPLETED: base.COMPLETED + 8, REJECTED: base.REJECTED + 4, CANCELLED: base.CANCELLED + 4 };
    await page.waitForFunction(
      (w) =>
        Object.entries(w).every(([s, n]) => Number(document.querySelector(`[data-count="${s}"]`)?.textContent) >= n),
      want,
      WAIT,
    );
    assert.equal(
      await page.$eval('#state-COMPLETED text.count', (e) => e.textContent),
      `${await total('COMPLETED')} total`,
    );
    assert.match((await page.$eval('#state-PAYING text.count', (e) => e.textContent)) ?? '', /^\d+ live$/);

    // Follow an order that paid nothing and was compensated: the longest path.
    const order = await client.awaitTerminal(ids.at(-1)!);
    const path: string[] = order.history.map((h: { status: string }) => h.status);
    assert.equal(order.status, 'CANCELLED');
    await page.fill('#order-id', order.orderId);
    await page.click('#lookup button');
    await page.waitForFunction((n) => document.querySelectorAll('#timeline li').length === n, path.length, WAIT);

    const visited = await page.$$eval('#diagram g.node.visited title', (ts) => ts.map((t) => t.textContent));
    assert.deepEqual(visited.sort(), [...new Set(path)].sort(), 'exactly the states in its history are lit');
    assert.deepEqual(await page.$$eval('#diagram g.node.current title', (ts) => ts.map((t) => t.textContent)), [
      'CANCELLED',
    ]);
    const timeline = await page.$$eval('#timeline li', (lis) => lis.map((li) => li.firstChild?.textContent));
    assert.deepEqual(timeline, path, 'the timeline lists the history in order');
    const lit = await page.$$eval('#diagram g.edge.visited', (es) => es.map((e) => e.id));
    for (let i = 1; i < path.length; i++) {
      assert.ok(
        lit.some((id) => id.startsWith(`t:${path[i - 1]}:`) && id.endsWith(`:${path[i]}`)),
        `arrow ${path[i - 1]} -> ${path[i]} is lit`,
      );
    }

    const shot = resolve('test-results/viz.png');
    await mkdir('test-results', { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot: ${shot}`);
    assert.deepEqual(foreign, [], 'the page loads nothing from anywhere else');
  });
});
