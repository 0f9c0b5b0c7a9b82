/**
 * User authentication (optional): `Authorization: Bearer <JWT>`, verified with jose, whose
 * `sub` is the userId. HS256 with AUTH_JWT_SECRET, or RS256 / ES256 with the keys at
 * AUTH_JWKS_URL; the algorithms are pinned per kind, so neither an unsigned (`none`) token nor
 * an HS256 token signed with a public key gets through. Off (config null), every hook here
 * lets the request by and subject() is null: the routes then behave as without this module.
 */
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyOptions, type JWTVerifyResult } from 'jose';
import type { Clock } from '../clock.ts';
import type { UserAuthConfig } from '../config.ts';
import { ApiError, unavailable } from './errors.ts';

/** Leeway for `exp` and `nbf` between our clock and the token issuer's. */
export const CLOCK_TOLERANCE_SEC = 5;

const SECRET_ALGORITHMS = ['HS256'];
const JWKS_ALGORITHMS = ['RS256', 'ES256'];

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer +(.+)$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

export interface UserAuth {
  /** Whether users are authenticated at all (AUTH_JWT_SECRET or AUTH_JWKS_URL is set). */
  readonly on: boolean;
  /** onRequest hook: a 401 unless the request carries a valid token; lets everything by when off. */
  requireUser(request: FastifyRequest): Promise<void>;
  /**
   * The userId the request's token was issued to (requireUser must have run); null when users
   * are not authenticated.
   */
  subject(request: FastifyRequest): string | null;
}

const unauthorized = (error: string, challenge: string): ApiError =>
  new ApiError(401, { error }, { headers: { 'www-authenticate': challenge } });

/**
 * jose's errors about the token are the client's (401); those about getting the keys (the
 * JWKS endpoint timed out, answered other than 200, sent no key set, or was unreachable) are
 * passing and ours (503), so a JWKS outage never looks like a bad token.
 */
const KEY_SET_TROUBLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

export function createUserAuth(config: UserAuthConfig | null, clock: Clock): UserAuth {
  if (config === null) {
    return { on: false, requireUser: async () => {}, subject: () => null };
  }
  let check: (token: string, options: JWTVerifyOptions) => Promise<JWTVerifyResult>;
  if (config.kind === 'secret') {
    const secret = new TextEncoder().encode(config.secret);
    check = (token, options) => jwtVerify(token, secret, options);
  } else {
    // Fetched on first use, cached, and fetched again for a key id it does not know yet.
    const keySet = createRemoteJWKSet(new URL(config.jwksUrl));
    check = (token, options) => jwtVerify(token, keySet, options);
  }
  const base: JWTVerifyOptions = {
    algorithms: config.kind === 'secret' ? SECRET_ALGORITHMS : JWKS_ALGORITHMS,
    clockTolerance: CLOCK_TOLERANCE_SEC,
    requiredClaims: ['sub', 'exp'],
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(config.audience !== undefined ? { audience: config.audience } : {}),
  };
  const subjects = new WeakMap<FastifyRequest, string>();

  async function verify(token: string): Promise<string> {
    // Time is a value (src/clock.ts): expiry is judged by the api's clock, not the wall's.
    const options = { ...base, currentDate: new Date(clock.now()) };
    try {
      const { payload } = await check(token, options);
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw unauthorized('invalid bearer token: no subject', 'Bearer error="invalid_token"');
      }
      return payload.sub;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof errors.JOSEError && !KEY_SET_TROUBLE.has(err.code)) {
        const error = err instanceof errors.JWTExpired ? 'bearer token has expired' : 'invalid bearer token';
        throw unauthorized(error, 'Bearer error="invalid_token"');
      }
      throw unavailable('user tokens cannot be verified now: the key set (AUTH_JWKS_URL) is unavailable', {}, err);
    }
  }

  return {
    on: true,
    async requireUser(request) {
      const token = bearerToken(request.headers.authorization);
      if (token === null) throw unauthorized('missing bearer token', 'Bearer');
      subjects.set(request, await verify(token));
    },
    subject(request) {
      const sub = subjects.get(request);
      // A route that reads the subject without the hook in front of it is a bug, not a guest.
      if (sub === undefined) throw new Error('subject() read on a route without requireUser');
      return sub;
    },
  };
}
