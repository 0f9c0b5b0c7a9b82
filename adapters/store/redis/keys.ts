/**
 * Key layout of the Redis store. Every key and channel starts with KEY_PREFIX (`P` below;
 * empty by default), so runs and tests sharing one Redis never meet.
 *
 * | key                           | type   | holds                                                          |
 * | ----------------------------- | ------ | -------------------------------------------------------------- |
 * | `P{p:<productId>}`            | hash   | `stock`, `price` (integers as decimal strings)                 |
 * | `P{u:<userId>}`               | hash   | `balance`                                                      |
 * | `P{p:<productId>}:res:<oid>`  | hash   | stock effect record of order `oid` for that product: `kind`    |
 * |                               |        | (reserved / refused / tombstone), `qty`, `released`, `code`,   |
 * |                               |        | `message`, `expireAt`                                          |
 * | `P{u:<userId>}:pay:<oid>`     | hash   | payment effect record: `kind` (charged / refused / tombstone), |
 * |                               |        | `amount`, `refunded`, `code`, `message`, `expireAt`            |
 * | `P{o:<orderId>}`              | hash   | the saga row: `version`, `snapshot`, `outbox`, `sent`, `view`, |
 * |                               |        | `status`, `expireAt` (terminal orders only), `idem` (its key)  |
 * | `Pidem:<key>`                 | hash   | idempotency-key claim: `order`, `hash` (of the body)           |
 * | `Pdeadlines`                  | zset   | the deadline index: member orderId, score wakeAt / lease end   |
 * | `Pretention`                  | zset   | the retention index: member one terminal commit (orderId, its  |
 * |                               |        | time, userId, productIds), score that time / lease end         |
 * | `Pcounts`                     | hash   | orders per status (live for non-terminal, running totals)      |
 * | `Plock:<resource>`            | string | Redlock's lock, on every REDLOCK_URLS master                   |
 * | channel `Pviews`              | pubsub | `<orderId> <view JSON>` after every commit of every order      |
 *
 * Hash tags put each effect record in its counter's slot (`{p:…}`, `{u:…}`): that is why
 * release takes the order's items and refund takes the userId. Today one Redis holds
 * everything (rule `scripts-guarantee`, docs/architecture.md), so a script may touch several slots (reserve over many
 * products, commitSaga with the row, both indexes and the counts, the checked reserve and
 * charge with the order's row, so that the order check and the effect are one call) and a few scripts
 * derive keys from the prefix inside Lua (the claimed order's row, a row's idempotency key, rows met by
 * claimDue). Splitting across a Cluster means revisiting those scripts (a checked effect
 * would read the order first again, getOrder then orderMismatch, as the undos still do);
 * Redlock over the products is what keeps a multi-product reserve all-or-nothing then.
 *
 * Expiry is data: `expireAt` is checked against the `now` each script gets from the
 * injected clock, and a record past it reads as absent and is deleted on the spot. A
 * real PEXPIRE of the retention plus a margin backs it, so Redis frees memory by itself.
 * Non-terminal orders never expire; a finished order's row and key orderRetentionMs after
 * its terminal commit. Effect records have no expiry while their order is in flight; they
 * expire effectRetentionMs after its terminal commit, set by retainEffects (one script
 * per record, each in its own slot) from the retention index the terminal commit wrote.
 */
export interface Keys {
  readonly prefix: string;
  product(productId: string): string;
  user(userId: string): string;
  stockRecord(productId: string, orderId: string): string;
  paymentRecord(userId: string, orderId: string): string;
  order(orderId: string): string;
  idempotency(key: string): string;
  readonly deadlines: string;
  readonly retention: string;
  readonly counts: string;
  lock(resource: string): string;
  /** The one pub/sub channel of every order's views (watchers.ts). */
  readonly views: string;
}

export function keysFor(prefix: string): Keys {
  return {
    prefix,
    product: (productId) => `${prefix}{p:${productId}}`,
    user: (userId) => `${prefix}{u:${userId}}`,
    stockRecord: (productId, orderId) => `${prefix}{p:${productId}}:res:${orderId}`,
    paymentRecord: (userId, orderId) => `${prefix}{u:${userId}}:pay:${orderId}`,
    order: (orderId) => `${prefix}{o:${orderId}}`,
    idempotency: (key) => `${prefix}idem:${key}`,
    deadlines: `${prefix}deadlines`,
    retention: `${prefix}retention`,
    counts: `${prefix}counts`,
    lock: (resource) => `${prefix}lock:${resource}`,
    views: `${prefix}views`,
  };
}
