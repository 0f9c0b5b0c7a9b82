import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bodyHash, canonicalJson } from '../../src/api/idempotency.ts';
import { createRateLimiter } from '../../src/api/rate-limit.ts';
import { ManualClock } from '../../src/clock.ts';

describe('canonicalJson', () => {
  test('sorts object keys at every depth and keeps array order', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ y: 2, x: null }, 'z'] }), '{"a":[{"x":null,"y":2},"z"],"b":1}');
    assert.equal(bodyHash({ b: 1, a: { d: 1, c: 2 } }), bodyHash({ a: { c: 2, d: 1 }, b: 1 }));
    assert.notEqual(bodyHash({ a: [1, 2] }), bodyHash({ a: [2, 1] }));
  });
});

describe('createRateLimiter', () => {
  test('forgets addresses once their window has passed', () => {
    const clock = new ManualClock(0);
    const limiter = createRateLimiter(clock, 1);
    for (let i = 0; i < 100; i++) limiter.take(`10.0.0.${i}`);
    assert.equal(limiter.trackedAddresses, 100);
    clock.advance(1000);
    assert.equal(limiter.take('10.0.0.1'), null);
    assert.equal(limiter.trackedAddresses, 1);
  });

  test('tells how long until the window turns', () => {
    const clock = new ManualClock(10_400);
    const limiter = createRateLimiter(clock, 1);
    assert.equal(limiter.take('a'), null);
    assert.equal(limiter.take('a'), 600);
  });
});
