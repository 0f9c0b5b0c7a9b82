/**
 * Mints an HS256 user token to try user authentication by hand (README, "User
 * authentication"): signed with AUTH_JWT_SECRET, `sub` the userId, valid for TTL seconds
 * (default 3600), with AUTH_ISSUER / AUTH_AUDIENCE as `iss` / `aud` when they are set.
 * Prints the token alone on stdout.
 *
 *   AUTH_JWT_SECRET=... npx tsx scripts/mint-token.ts <userId> [ttlSeconds]
 */
import { SignJWT } from 'jose';
import { loadConfig } from '../src/config.ts';
import { Id } from '../src/schemas.ts';

const USAGE = 'usage: AUTH_JWT_SECRET=<32+ bytes> npx tsx scripts/mint-token.ts <userId> [ttlSeconds]';

async function main(): Promise<void> {
  const [userId, ttlRaw = '3600'] = process.argv.slice(2);
  if (userId === undefined || !Id.safeParse(userId).success) throw new Error(`a userId is needed. ${USAGE}`);
  if (!/^\d{1,9}$/.test(ttlRaw) || Number(ttlRaw) < 1) throw new Error(`ttlSeconds must be a whole number. ${USAGE}`);
  const auth = loadConfig().userAuth;
  if (auth?.kind !== 'secret') throw new Error(`AUTH_JWT_SECRET is not set. ${USAGE}`);
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + Number(ttlRaw));
  if (auth.issuer !== undefined) jwt.setIssuer(auth.issuer);
  if (auth.audience !== undefined) jwt.setAudience(auth.audience);
  process.stdout.write(`${await jwt.sign(new TextEncoder().encode(auth.secret))}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
});
