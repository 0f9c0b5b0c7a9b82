/**
 * User authentication on the order and user routes (docs/api.md): a bearer JWT whose `sub`
 * is the userId, HS256 with a secret or RS256 / ES256 with keys from a JWKS endpoint. Tokens
 * are minted here with jose; the JWKS is served by a small local HTTP server. Time is the
 * harness's manual clock, which the api's verification reads too.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWK, type KeyLike } from 'jose';
import { CLOCK_TOLERANCE_SEC } from '../../src/api/auth.ts';
import type { UserAuthConfig } from '../../src/config.ts';
import { apiHarness, postOrder, validOrder, type ApiHarness } from '../helpers/api-app.ts';

let h: ApiHarness;
afterEach(async () => h?.app.close());

const SECRET = 'test-secret-that-is-32-bytes-or-more';
const secretAuth: UserAuthConfig = { kind: 'secret', secret: SECRET, issuer: undefined, audience: undefined };
const secretKey = new TextEncoder().encode(SECRET);

interface Mint {
  sub?: string;
  /** Seconds from the harness clock's now; default 300. */
  expiresIn?: number;
  issuer?: string;
  audience?: string;
}

/** A signed token, its times taken from the harness's clock (not the wall's). */
function claims(m: Mint, alg: string, kid?: string): SignJWT {
  const now = Math.floor(h.clock.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader(kid === undefined ? { alg } : { alg, kid })
    .setIssuedAt(now)
    .setExpirationTime(now + (m.expiresIn ?? 300));
  if (m.sub !== undefined) jwt.setSubject(m.sub);
  if (m.issuer !== undefined) jwt.setIssuer(m.issuer);
  if (m.audience !== undefined) jwt.setAudience(m.audience);
  return jwt;
}

const hs256 = (m: Mint, key: Uint8Array = secretKey): Promise<string> => claims(m, 'HS256').sign(key);
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const get = (url: string, headers: Record<string, string> = {}) => h.app.inject({ method: 'GET', url, headers });

function unsigned(sub: string): string {
  const now = Math.floor(h.clock.now() / 1000);
  return new UnsecuredJWT({})
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(now + 300)
    .encode();
}

async function assert401(res: { statusCode: number; headers: Record<string, unknown>; json(): unknown }) {
  assert.equal(res.statusCode, 401);
  assert.match(String(res.headers['www-authenticate']), /^Bearer\b/);
  const body = res.json() as { error: unknown };
  assert.equal(typeof body.error, 'string');
}

describe('user authentication with an HS256 secret', () => {
  const on = () => apiHarness({ userAuth: secretAuth });

  test('POST /orders without a token answers 401 with WWW-Authenticate: Bearer and records nothing', async () => {
    h = await on();
    const res = await postOrder(h.app, validOrder);
    await assert401(res);
    assert.deepEqual(res.json(), { error: 'missing bearer token' });
    assert.equal(res.headers['www-authenticate'], 'Bearer');
    assert.equal(h.store.orders.size, 0);
    assert.equal(h.broker.published.length, 0);
  });

  test('a token signed with another secret, a malformed one, or another scheme answers 401', async () => {
    h = await on();
    const forged = await hs256({ sub: 'u1' }, new TextEncoder().encode('another-secret-of-32-bytes-or-more!'));
    for (const authorization of [`Bearer ${forged}`, 'Bearer not.a.jwt', 'Bearer x', `Basic ${forged}`]) {
      await assert401(await postOrder(h.app, validOrder, { authorization }));
    }
    assert.equal(h.store.orders.size, 0);
  });

  test('an expired token answers 401 once past the small clock tolerance, judged by the api clock', async () => {
    h = await on();
    const token = await hs256({ sub: 'u1', expiresIn: 60 });
    assert.equal((await postOrder(h.app, validOrder, bearer(token))).statusCode, 202);
    h.clock.advance((60 + CLOCK_TOLERANCE_SEC - 1) * 1000);
    assert.equal((await postOrder(h.app, validOrder, bearer(token))).statusCode, 202, 'within tolerance');
    h.clock.advance(2_000);
    const res = await postOrder(h.app, validOrder, bearer(token));
    await assert401(res);
    assert.deepEqual(res.json(), { error: 'bearer token has expired' });
  });

  test('an unsigned (alg none) token, one without sub, or one without exp answers 401', async () => {
    h = await on();
    const noSub = await hs256({});
    const noExp = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('u1').sign(secretKey);
    for (const token of [unsigned('u1'), noSub, noExp]) {
      await assert401(await postOrder(h.app, validOrder, bearer(token)));
    }
  });

  test('an HS512 token signed with the right secret answers 401: the algorithm is pinned to HS256', async () => {
    h = await on();
    const now = Math.floor(h.clock.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('u1')
      .setExpirationTime(now + 300)
      .sign(secretKey);
    await assert401(await postOrder(h.app, validOrder, bearer(token)));
  });

  test('POST /orders as another user answers 403 and records nothing; as oneself 202', async () => {
    h = await on();
    const u2 = await hs256({ sub: 'u2' });
    const res = await postOrder(h.app, validOrder, bearer(u2));
    assert.equal(res.statusCode, 403);
    assert.deepEqual(res.json(), { error: "the order's userId is not the bearer token's subject" });
    assert.equal(h.store.orders.size, 0);
    const own = await postOrder(h.app, validOrder, bearer(await hs256({ sub: 'u1' })));
    assert.equal(own.statusCode, 202);
    assert.deepEqual(own.json(), { orderId: 'o-1', status: 'PENDING' });
  });

  test('an unauthenticated POST is refused before its body is looked at', async () => {
    h = await on();
    const res = await postOrder(h.app, { nonsense: true });
    await assert401(res);
  });

  test('GET /orders/{id}: 200 for its own user, 404 for another user (long-poll included, not held), 401 without a token', async () => {
    h = await on();
    const u1 = await hs256({ sub: 'u1' });
    const u2 = await hs256({ sub: 'u2' });
    assert.equal((await postOrder(h.app, validOrder, bearer(u1))).statusCode, 202);
    const own = await get('/orders/o-1', bearer(u1));
    assert.equal(own.statusCode, 200);
    assert.equal(own.json().userId, 'u1');
    const other = await get('/orders/o-1', bearer(u2));
    assert.equal(other.statusCode, 404);
    const unknown = await get('/orders/o-9', bearer(u2));
    assert.deepEqual(other.json(), unknown.json(), 'another user’s order looks like an unknown one');
    const held = await get('/orders/o-1?wait=30000', bearer(u2));
    assert.equal(held.statusCode, 404);
    assert.equal(h.store.watchers('o-1'), 0, 'no long-poll was opened on another user’s order');
    await assert401(await get('/orders/o-1'));
    // Its own user's long-poll still works.
    const watched = h.store.watched('o-1');
    const waiting = get('/orders/o-1?wait=30000', bearer(u1));
    await watched;
    h.store.setStatus('o-1', 'COMPLETED');
    assert.equal((await waiting).json().status, 'COMPLETED');
  });

  test('GET /users/{id}: 200 for that user, 404 for another (as if unknown), 401 without a token', async () => {
    h = await on();
    h.store.users.set('u1', { userId: 'u1', balance: 1000 });
    h.store.users.set('u2', { userId: 'u2', balance: 5 });
    const u1 = await hs256({ sub: 'u1' });
    const own = await get('/users/u1', bearer(u1));
    assert.equal(own.statusCode, 200);
    assert.deepEqual(own.json(), { userId: 'u1', balance: 1000 });
    const other = await get('/users/u2', bearer(u1));
    assert.equal(other.statusCode, 404);
    assert.deepEqual(other.json(), { error: 'user not found' });
    await assert401(await get('/users/u1'));
  });

  test('products stay public and admin routes keep ADMIN_TOKEN', async () => {
    h = await on();
    h.store.products.set('p1', { productId: 'p1', stock: 7, price: 250 });
    assert.equal((await get('/products/p1')).statusCode, 200);
    const userToken = await hs256({ sub: 'u1' });
    const admin = await h.app.inject({
      method: 'PUT',
      url: '/admin/products/p2',
      payload: { stock: 1, price: 1 },
      headers: bearer(userToken),
    });
    assert.equal(admin.statusCode, 401, 'a user token is no admin token');
  });

  test('the same Idempotency-Key from two users makes two orders; each user repeats its own', async () => {
    h = await on();
    const u1 = bearer(await hs256({ sub: 'u1' }));
    const u2 = bearer(await hs256({ sub: 'u2' }));
    const a = await postOrder(h.app, validOrder, { ...u1, 'idempotency-key': 'k1' });
    const b = await postOrder(h.app, { ...validOrder, userId: 'u2' }, { ...u2, 'idempotency-key': 'k1' });
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202, JSON.stringify(b.json()));
    assert.notEqual(a.json().orderId, b.json().orderId);
    assert.equal(h.store.orders.size, 2);
    const again = await postOrder(h.app, validOrder, { ...u1, 'idempotency-key': 'k1' });
    assert.deepEqual(again.json(), { orderId: a.json().orderId, status: 'PENDING' });
    assert.equal(h.store.orders.size, 2);
  });

  test('user ids with a colon cannot reach each other’s keys', async () => {
    h = await on();
    // Scoped as "userId:key", "a:b" + "c" and "a" + "b:c" would be one key.
    const ab = bearer(await hs256({ sub: 'a:b' }));
    const a = bearer(await hs256({ sub: 'a' }));
    const first = await postOrder(h.app, { ...validOrder, userId: 'a:b' }, { ...ab, 'idempotency-key': 'c' });
    const second = await postOrder(h.app, { ...validOrder, userId: 'a' }, { ...a, 'idempotency-key': 'b:c' });
    assert.equal(first.statusCode, 202);
    assert.equal(second.statusCode, 202, JSON.stringify(second.json()));
    assert.equal(h.store.orders.size, 2);
  });
});

describe('Idempotency-Key characters', () => {
  for (const userAuth of [null, secretAuth]) {
    test(`a key outside visible ASCII answers 400 and records nothing (auth ${userAuth ? 'on' : 'off'})`, async () => {
      h = await apiHarness({ userAuth });
      const headers = userAuth ? bearer(await hs256({ sub: 'u1' })) : {};
      for (const key of ['naïve', 'two words', 'tab\there', 'ключ']) {
        const res = await h.app.inject({
          method: 'POST',
          url: '/orders',
          payload: validOrder,
          // Node carries header bytes as latin1: what a client sends as UTF-8 arrives so.
          headers: { ...headers, 'idempotency-key': Buffer.from(key, 'utf8').toString('latin1') },
        });
        assert.equal(res.statusCode, 400, key);
        assert.deepEqual(res.json(), {
          error: 'invalid Idempotency-Key',
          details: ['Idempotency-Key: must be visible ASCII characters (0x21 to 0x7E), without spaces'],
        });
      }
      assert.equal(h.store.orders.size, 0);
      const edge = '!~' + 'a'.repeat(126);
      assert.equal((await postOrder(h.app, validOrder, { ...headers, 'idempotency-key': edge })).statusCode, 202);
    });
  }
});

describe('user authentication off (the default)', () => {
  test('every route answers as before: no token needed, anyone may order and read, keys are not scoped', async () => {
    h = await apiHarness();
    h.store.users.set('u2', { userId: 'u2', balance: 5 });
    const res = await postOrder(h.app, validOrder, { 'idempotency-key': 'k1' });
    assert.equal(res.statusCode, 202);
    assert.equal(h.store.orders.get('o-1')?.idempotency?.key, 'k1');
    assert.equal((await get('/orders/o-1')).statusCode, 200);
    assert.equal((await get('/users/u2')).statusCode, 200);
    // A bearer token is simply not looked at.
    assert.equal((await get('/users/u2', { authorization: 'Bearer junk' })).statusCode, 200);
  });
});

describe('user authentication with a JWKS endpoint (RS256 / ES256)', () => {
  let server: Server;
  let jwksUrl: string;
  let es: { privateKey: KeyLike; jwk: JWK };
  let rs: { privateKey: KeyLike; jwk: JWK };
  let other: KeyLike;
  let fetches = 0;

  before(async () => {
    const keyPair = async (alg: 'ES256' | 'RS256', kid: string) => {
      const { publicKey, privateKey } = await generateKeyPair(alg);
      return { privateKey, jwk: { ...(await exportJWK(publicKey)), alg, kid, use: 'sig' } };
    };
    es = await keyPair('ES256', 'es-1');
    rs = await keyPair('RS256', 'rs-1');
    other = (await generateKeyPair('ES256')).privateKey;
    server = createServer((req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [es.jwk, rs.jwk] }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  after(async () => {
    server.close();
    await once(server, 'close');
  });

  const jwks = (issuer?: string, audience?: string): UserAuthConfig => ({ kind: 'jwks', jwksUrl, issuer, audience });
  const es256 = (m: Mint, key: KeyLike = es.privateKey, kid = 'es-1') => claims(m, 'ES256', kid).sign(key);

  test('ES256 and RS256 tokens from the key set are accepted; 202 for oneself, 403 for another', async () => {
    h = await apiHarness({ userAuth: jwks() });
    const before = fetches;
    const viaEs = await es256({ sub: 'u1' });
    const viaRs = await claims({ sub: 'u1' }, 'RS256', 'rs-1').sign(rs.privateKey);
    assert.equal((await postOrder(h.app, validOrder, bearer(viaEs))).statusCode, 202);
    assert.equal((await postOrder(h.app, validOrder, bearer(viaRs))).statusCode, 202);
    assert.equal((await get('/orders/o-2', bearer(viaEs))).statusCode, 200);
    assert.equal((await postOrder(h.app, { ...validOrder, userId: 'u2' }, bearer(viaEs))).statusCode, 403);
    assert.equal(fetches - before, 1, 'the key set is fetched once and cached');
  });

  test('a key not in the set, an HS256 token, an unsigned token or an expired one answers 401', async () => {
    h = await apiHarness({ userAuth: jwks() });
    const foreign = await es256({ sub: 'u1' }, other);
    // The classic confusion: HS256 "signed" with the public key's bytes.
    const confused = await claims({ sub: 'u1' }, 'HS256', 'es-1').sign(
      new TextEncoder().encode(JSON.stringify(es.jwk)),
    );
    const hs = await claims({ sub: 'u1' }, 'HS256').sign(secretKey);
    const expired = await es256({ sub: 'u1', expiresIn: -(CLOCK_TOLERANCE_SEC + 1) });
    for (const token of [foreign, confused, hs, unsigned('u1'), expired]) {
      await assert401(await postOrder(h.app, validOrder, bearer(token)));
    }
    assert.equal(h.store.orders.size, 0);
  });

  test('checks the issuer and the audience when they are configured', async () => {
    h = await apiHarness({ userAuth: jwks('https://issuer.example', 'orders-api') });
    const good = await es256({ sub: 'u1', issuer: 'https://issuer.example', audience: 'orders-api' });
    assert.equal((await postOrder(h.app, validOrder, bearer(good))).statusCode, 202);
    const wrongIssuer = await es256({ sub: 'u1', issuer: 'https://evil.example', audience: 'orders-api' });
    const wrongAudience = await es256({ sub: 'u1', issuer: 'https://issuer.example', audience: 'another-api' });
    const neither = await es256({ sub: 'u1' });
    for (const token of [wrongIssuer, wrongAudience, neither]) {
      await assert401(await postOrder(h.app, validOrder, bearer(token)));
    }
  });

  test('a key set that cannot be fetched answers 503, not 401: the token may be fine', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    h = await apiHarness({
      userAuth: { kind: 'jwks', jwksUrl: `http://127.0.0.1:${port}/jwks`, issuer: undefined, audience: undefined },
    });
    const res = await postOrder(h.app, validOrder, bearer(await es256({ sub: 'u1' })));
    assert.equal(res.statusCode, 503);
    assert.match(res.json().error, /AUTH_JWKS_URL/);
    assert.equal(h.store.orders.size, 0);
  });
});
