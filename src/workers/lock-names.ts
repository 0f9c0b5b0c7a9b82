/** Lock names of the effects: one per product for stock, one per user for payments. */
export const productLock = (productId: string): string => `p:${productId}`;
export const userLock = (userId: string): string => `u:${userId}`;
