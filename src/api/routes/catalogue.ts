/**
 * GET /products/{productId} and GET /users/{userId}: read-only views of the counters.
 * Products are public; with user authentication on, a user is visible to itself alone.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { Id } from '../../schemas.ts';
import type { UserRouteOptions } from '../deps.ts';
import { fromStore, notFound } from '../errors.ts';
import { parseOr400 } from '../validate.ts';

export const catalogueRoutes: FastifyPluginAsync<UserRouteOptions> = async (app, { deps: { store }, users }) => {
  const ProductParams = z.object({ productId: Id });

  app.get('/products/:productId', async (request) => {
    const { productId } = parseOr400(ProductParams, request.params, 'invalid productId');
    const [product] = await fromStore(() => store.getProducts([productId]));
    if (!product) throw notFound('product');
    return { productId: product.productId, stock: product.stock, price: product.price };
  });

  const UserParams = z.object({ userId: Id });

  app.get('/users/:userId', { onRequest: users.requireUser }, async (request) => {
    const { userId } = parseOr400(UserParams, request.params, 'invalid userId');
    // Another user's account answers as an unknown one does: its existence is not told.
    const subject = users.subject(request);
    if (subject !== null && subject !== userId) throw notFound('user');
    const user = await fromStore(() => store.getUser(userId));
    if (!user) throw notFound('user');
    return { userId: user.userId, balance: user.balance };
  });
};
