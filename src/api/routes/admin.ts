/**
 * PUT /admin/products/{productId} and PUT /admin/users/{userId}: create or replace.
 * Registered under the /admin prefix; every route here needs the bearer token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Amount, Id } from '../../schemas.ts';
import { bearerToken } from '../auth.ts';
import type { RouteOptions } from '../deps.ts';
import { ApiError, fromStore } from '../errors.ts';
import { parseOr400 } from '../validate.ts';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Checks `Authorization: Bearer <token>` in constant time (both sides hashed to one length). */
export function adminAuth(adminToken: string | undefined) {
  const expected = adminToken === undefined ? null : digest(adminToken);
  return async function requireAdmin(request: FastifyRequest): Promise<void> {
    if (expected === null) throw new ApiError(403, { error: 'admin routes are disabled: ADMIN_TOKEN is not set' });
    const token = bearerToken(request.headers.authorization);
    const ok = token !== null && timingSafeEqual(digest(token), expected);
    if (!ok) {
      throw new ApiError(
        401,
        { error: 'missing or wrong bearer token' },
        { headers: { 'www-authenticate': 'Bearer' } },
      );
    }
  };
}

export const adminRoutes: FastifyPluginAsync<RouteOptions> = async (app, { deps: { store, adminToken } }) => {
  // onRequest: refused before the body is even read.
  app.addHook('onRequest', adminAuth(adminToken));

  const ProductParams = z.object({ productId: Id });
  const ProductBody = z.strictObject({ stock: Amount, price: Amount });

  app.put('/products/:productId', async (request) => {
    const { productId } = parseOr400(ProductParams, request.params, 'invalid productId');
    const { stock, price } = parseOr400(ProductBody, request.body, 'invalid product');
    const product = { productId, stock, price };
    await fromStore(() => store.putProduct(product));
    return product;
  });

  const UserParams = z.object({ userId: Id });
  const UserBody = z.strictObject({ balance: Amount });

  app.put('/users/:userId', async (request) => {
    const { userId } = parseOr400(UserParams, request.params, 'invalid userId');
    const { balance } = parseOr400(UserBody, request.body, 'invalid user');
    const user = { userId, balance };
    await fromStore(() => store.putUser(user));
    return user;
  });
};
