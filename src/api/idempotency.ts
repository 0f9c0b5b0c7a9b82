/** Idempotency-Key handling: the header's bounds and the hash that tells "same body" apart. */
import { createHash } from 'node:crypto';
import { badRequest } from './errors.ts';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const MAX_KEY_LENGTH = 128;

/** JSON with object keys sorted at every depth, so key order never makes two bodies differ. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const bodyHash = (body: unknown): string => createHash('sha256').update(canonicalJson(body)).digest('hex');

/** Visible ASCII, 0x21 to 0x7E: no space, no control character, nothing a proxy might re-encode. */
const VISIBLE_ASCII = /^[\x21-\x7E]*$/;

/** The key if one was sent; a 400 if it is empty, too long, or not visible ASCII. */
export function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const key = Array.isArray(header) ? header.join(', ') : header;
  if (key.length < 1 || key.length > MAX_KEY_LENGTH) {
    throw badRequest('invalid Idempotency-Key', [`Idempotency-Key: must be 1 to ${MAX_KEY_LENGTH} characters`]);
  }
  if (!VISIBLE_ASCII.test(key)) {
    throw badRequest('invalid Idempotency-Key', [
      'Idempotency-Key: must be visible ASCII characters (0x21 to 0x7E), without spaces',
    ]);
  }
  return key;
}

/**
 * The key as claimed in the store. With user authentication on, each user has keys of its
 * own: the userId and a space go in front. Neither a userId nor a key holds a space, so a
 * scoped key never equals another user's scoped key, nor any unscoped one.
 */
export const scopedKey = (key: string, userId: string | null): string => (userId === null ? key : `${userId} ${key}`);
