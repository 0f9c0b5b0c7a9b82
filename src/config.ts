/**
 * Configuration from the environment, validated once at start. A bad value throws a
 * ConfigError whose message is one line naming the variable; main.ts prints it and exits.
 */
import { accessSync, constants } from 'node:fs';
import { ConfigError } from './errors.ts';

export interface MemoryFaults {
  dup: number;
  crash: number;
  reorder: number;
  pubfail: number;
  /** A publish lands a prefix of its messages, or all, and still fails. */
  partial: number;
  /** A handler keeps running on a member that lost its partition, and ends after the new owner re-handled. */
  zombie: number;
  /** A member crashes after handling messages past a gap; another re-reads the span from the committed offset. */
  span: number;
  seed: number;
}

/** Every fault off (the embedded adapters' default); tests spread the ones they want over it. */
export const noFaults = (seed = 1): MemoryFaults => ({
  dup: 0,
  crash: 0,
  reorder: 0,
  pubfail: 0,
  partial: 0,
  zombie: 0,
  span: 0,
  seed,
});

const FAULT_NAMES = ['dup', 'crash', 'reorder', 'pubfail', 'partial', 'zombie', 'span'] as const;
const isFaultName = (k: string | undefined): k is (typeof FAULT_NAMES)[number] =>
  (FAULT_NAMES as readonly (string | undefined)[]).includes(k);

/**
 * How the api authenticates users, or null when it does not (the embedded demo's default).
 * HS256 with a shared secret, or RS256 / ES256 with keys from a JWKS endpoint; issuer and
 * audience are checked when given.
 */
export type UserAuthConfig =
  | { kind: 'secret'; secret: string; issuer: string | undefined; audience: string | undefined }
  | { kind: 'jwks'; jwksUrl: string; issuer: string | undefined; audience: string | undefined };

/** HS256 keys shorter than the hash's output are guessable (RFC 7518 section 3.2). */
export const MIN_JWT_SECRET_BYTES = 32;

export const KafkaSaslMechanisms = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KafkaSaslMechanisms)[number];

/** How the Kafka clients authenticate and encrypt; null/false fields mean plaintext, no SASL. */
export interface KafkaSecurity {
  /** KAFKA_SSL: TLS to the brokers (on by itself when KAFKA_SSL_CA_FILE is given). */
  ssl: boolean;
  /** KAFKA_SSL_CA_FILE: a PEM file of the CA(s) to trust instead of the system's. */
  caFile: string | null;
  /** KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD. */
  sasl: { mechanism: KafkaSaslMechanism; username: string; password: string } | null;
}

/** The shortest ADMIN_TOKEN accepted: a guessable token on a published port is an open door. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

export interface Config {
  broker: 'memory' | 'kafka';
  store: 'memory' | 'redis';
  kafkaBrokers: string[];
  kafkaPartitions: number;
  kafkaGroupPrefix: string;
  kafkaSecurity: KafkaSecurity;
  redisUrl: string;
  redlockUrls: string[];
  port: number;
  /** Address the HTTP server binds; not in the contract (containers set 0.0.0.0). */
  host: string;
  metricsPort: number;
  /** METRICS_PORT was given: a taken port stops the process. Unset, a taken default falls back to a free port. */
  metricsPortSet: boolean;
  topicPrefix: string;
  keyPrefix: string;
  rateLimitPerSec: number;
  /** Time a request's headers and body have to arrive in; later gets 408 and the connection closes. */
  httpRequestTimeoutMs: number;
  /** Open long-polls plus /viz/events streams one client address may hold; 0 = no cap. */
  maxWaitsPerClient: number;
  /** Admission control's cap on orders not terminal; 0 = off. */
  maxInFlight: number;
  adminToken: string | undefined;
  /** AUTH_JWT_SECRET or AUTH_JWKS_URL (with AUTH_ISSUER, AUTH_AUDIENCE); null = users are not authenticated. */
  userAuth: UserAuthConfig | null;
  stepTimeoutMs: number;
  orderRetentionMs: number;
  seedDemo: boolean;
  memoryFaults: MemoryFaults | null;
  inspect: boolean;
  logLevel: string;
}

type Env = Record<string, string | undefined>;

/**
 * A URL (or comma-separated URLs, parsable or not) with every password replaced by `***`:
 * what sits between `//` and the last `@` before the next URL keeps only its user name.
 * Config errors and logs show URLs through this, never as given.
 */
export function maskCredentials(text: string): string {
  return (
    text
      .replace(/\/\/((?:(?!:\/\/).)*)@/g, (_m, userinfo: string) => {
        const colon = userinfo.indexOf(':');
        return colon === -1 ? '//***@' : `//${userinfo.slice(0, colon)}:***@`;
      })
      // An item without a scheme (`user:pass@host`): all of it up to its last `@`.
      .replace(/(^|,)([^,/]*)@/g, '$1***@')
  );
}

const fail = (name: string, value: string, expected: string): never => {
  throw new ConfigError(`Invalid environment variable ${name}=${JSON.stringify(value)}: expected ${expected}`);
};

/** For variables that hold a secret: the message names the variable, never the value. */
const failSecret = (name: string, expected: string): never => {
  throw new ConfigError(`Invalid environment variable ${name} (value not shown): expected ${expected}`);
};

function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], def: T): T {
  const raw = read(env, name);
  if (raw === undefined) return def;
  return (choices as readonly string[]).includes(raw) ? (raw as T) : fail(name, raw, `one of ${choices.join(', ')}`);
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return def;
  const n = Number(raw);
  return /^-?\d+$/.test(raw) && Number.isSafeInteger(n) && n >= min && n <= max
    ? n
    : fail(name, raw, `an integer from ${min} to ${max}`);
}

function flag(env: Env, name: string, def: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return def;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  return fail(name, raw, '1 or 0');
}

function hostPorts(env: Env, name: string, def: string): string[] {
  const raw = read(env, name) ?? def;
  const list = raw.split(',').map((s) => s.trim());
  for (const hp of list) {
    const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(hp);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) fail(name, raw, 'a comma-separated list of host:port');
  }
  return list;
}

function redisUrls(env: Env, name: string, def: string): string[] {
  const raw = read(env, name) ?? def;
  const list = raw.split(',').map((s) => s.trim());
  for (const u of list) {
    let ok = false;
    try {
      ok = ['redis:', 'rediss:'].includes(new URL(u).protocol);
    } catch {
      ok = false;
    }
    if (!ok) fail(name, maskCredentials(raw), 'redis:// or rediss:// URLs separated by commas');
  }
  return list;
}

function hostName(env: Env, name: string, def: string): string {
  const raw = read(env, name) ?? def;
  return /^([A-Za-z0-9.-]+|[0-9a-fA-F:]+)$/.test(raw) ? raw : fail(name, raw, 'a host name or IP address');
}

function prefix(env: Env, name: string): string {
  const raw = read(env, name) ?? '';
  return /^[A-Za-z0-9_.:-]{0,64}$/.test(raw) ? raw : fail(name, raw, 'at most 64 of A-Z a-z 0-9 _ . : -');
}

function httpUrl(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(raw).protocol);
  } catch {
    ok = false;
  }
  return ok ? raw : fail(name, raw, 'an http:// or https:// URL');
}

/** Never echoes the secret: the line names the variable and its length only. */
function jwtSecret(env: Env, name: string): string | undefined {
  const raw = read(env, name);
  if (raw === undefined) return undefined;
  const bytes = Buffer.byteLength(raw, 'utf8');
  if (bytes >= MIN_JWT_SECRET_BYTES) return raw;
  throw new ConfigError(
    `Invalid environment variable ${name} (value hidden, ${bytes} bytes): expected at least ${MIN_JWT_SECRET_BYTES} bytes`,
  );
}

function userAuth(env: Env): UserAuthConfig | null {
  const secret = jwtSecret(env, 'AUTH_JWT_SECRET');
  const jwksUrl = httpUrl(env, 'AUTH_JWKS_URL');
  const issuer = read(env, 'AUTH_ISSUER');
  const audience = read(env, 'AUTH_AUDIENCE');
  if (secret !== undefined && jwksUrl !== undefined) {
    throw new ConfigError(
      'Invalid environment variable AUTH_JWKS_URL: AUTH_JWT_SECRET is set too; set one of AUTH_JWT_SECRET (HS256) or AUTH_JWKS_URL (RS256/ES256)',
    );
  }
  if (secret !== undefined) return { kind: 'secret', secret, issuer, audience };
  if (jwksUrl !== undefined) return { kind: 'jwks', jwksUrl, issuer, audience };
  // An issuer or audience alone would look like authentication while there is none.
  for (const [name, value] of [
    ['AUTH_ISSUER', issuer],
    ['AUTH_AUDIENCE', audience],
  ] as const) {
    if (value !== undefined) fail(name, value, 'to be set together with AUTH_JWKS_URL or AUTH_JWT_SECRET');
  }
  return null;
}

export function parseFaults(name: string, raw: string): MemoryFaults {
  const faults = noFaults();
  for (const part of raw.split(',')) {
    const [k, val] = part.split('=').map((s) => s.trim());
    const n = Number(val);
    if (k === 'seed' && val !== undefined && /^\d+$/.test(val)) faults.seed = n;
    else if (isFaultName(k) && val !== undefined && val !== '' && n >= 0 && n < 1) faults[k] = n;
    else fail(name, raw, `comma-separated ${FAULT_NAMES.join('|')}=<0..1> and seed=<int>`);
  }
  return faults;
}

/**
 * Orders/s measured on Kafka + Redis, all roles in one process, on the project's 2-core
 * machine (BENCHMARKS.md: 699/s). MAX_IN_FLIGHT defaults to what that finishes within one
 * step timeout (21,000 at 30 s); admission control's own limit, which follows the observed
 * completion rate, is what usually binds, this is the backstop.
 */
export const MEASURED_CAPACITY_PER_SEC = 700;
export const defaultMaxInFlight = (stepTimeoutMs: number): number =>
  Math.max(1, Math.round((MEASURED_CAPACITY_PER_SEC * stepTimeoutMs) / 1000));

function adminToken(env: Env): string | undefined {
  const raw = read(env, 'ADMIN_TOKEN');
  if (raw === undefined || raw.length >= MIN_ADMIN_TOKEN_LENGTH) return raw;
  return failSecret('ADMIN_TOKEN', `at least ${MIN_ADMIN_TOKEN_LENGTH} characters, got ${raw.length}`);
}

function kafkaSecurity(env: Env): KafkaSecurity {
  const caFile = read(env, 'KAFKA_SSL_CA_FILE') ?? null;
  if (caFile !== null) {
    try {
      accessSync(caFile, constants.R_OK);
    } catch {
      fail('KAFKA_SSL_CA_FILE', caFile, 'a readable PEM file');
    }
  }
  const ssl = flag(env, 'KAFKA_SSL', caFile !== null);
  if (!ssl && caFile !== null) fail('KAFKA_SSL', read(env, 'KAFKA_SSL')!, '1 when KAFKA_SSL_CA_FILE is set');
  const mechanism = read(env, 'KAFKA_SASL_MECHANISM');
  const username = read(env, 'KAFKA_SASL_USERNAME');
  // A password is taken as given (spaces included), only an empty one counts as unset.
  const password = env.KAFKA_SASL_PASSWORD === '' ? undefined : env.KAFKA_SASL_PASSWORD;
  if (mechanism === undefined) {
    if (username !== undefined)
      fail('KAFKA_SASL_MECHANISM', '', `one of ${KafkaSaslMechanisms.join(', ')} with KAFKA_SASL_USERNAME`);
    if (password !== undefined)
      failSecret('KAFKA_SASL_PASSWORD', `KAFKA_SASL_MECHANISM (${KafkaSaslMechanisms.join(', ')}) to go with it`);
    return { ssl, caFile, sasl: null };
  }
  const m = oneOf(env, 'KAFKA_SASL_MECHANISM', KafkaSaslMechanisms, 'plain');
  if (username === undefined) fail('KAFKA_SASL_USERNAME', '', `a user name with KAFKA_SASL_MECHANISM=${m}`);
  if (password === undefined) failSecret('KAFKA_SASL_PASSWORD', `a password with KAFKA_SASL_MECHANISM=${m}`);
  return { ssl, caFile, sasl: { mechanism: m, username: username!, password: password! } };
}

const LogLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * ORDER_RETENTION_MS must be at least this many step timeouts. Redeliveries, duplicates
 * and late replies of an order arrive within about a step timeout of its last step; a
 * finished order must stay known well past that, so they are recognised and repeat their
 * recorded outcome instead of being dead-lettered as unknown (effect records live twice
 * as long, from the order's end).
 */
export const MIN_RETENTION_STEPS = 10;

function retention(env: Env, stepTimeoutMs: number): number {
  const ms = int(env, 'ORDER_RETENTION_MS', 604_800_000, 1, 31_536_000_000);
  if (ms >= MIN_RETENTION_STEPS * stepTimeoutMs) return ms;
  const shown = read(env, 'ORDER_RETENTION_MS') ?? `${ms} (the default)`;
  throw new ConfigError(
    `Invalid environment variable ORDER_RETENTION_MS=${JSON.stringify(shown)}: expected at least ${MIN_RETENTION_STEPS} x STEP_TIMEOUT_MS (${MIN_RETENTION_STEPS * stepTimeoutMs})`,
  );
}

export function loadConfig(env: Env = process.env): Config {
  const broker = oneOf(env, 'BROKER', ['memory', 'kafka'] as const, 'memory');
  const store = oneOf(env, 'STORE', ['memory', 'redis'] as const, 'memory');
  const redisUrl = redisUrls(env, 'REDIS_URL', 'redis://127.0.0.1:6379')[0]!;
  const faultsRaw = read(env, 'MEMORY_FAULTS');
  const embedded = broker === 'memory' && store === 'memory';
  const stepTimeoutMs = int(env, 'STEP_TIMEOUT_MS', 30_000, 1, 86_400_000);
  return {
    broker,
    store,
    kafkaBrokers: hostPorts(env, 'KAFKA_BROKERS', '127.0.0.1:9092'),
    kafkaPartitions: int(env, 'KAFKA_PARTITIONS', 6, 1, 1000),
    kafkaGroupPrefix: prefix(env, 'KAFKA_GROUP_PREFIX'),
    kafkaSecurity: kafkaSecurity(env),
    redisUrl,
    redlockUrls: redisUrls(env, 'REDLOCK_URLS', redisUrl),
    port: int(env, 'PORT', 3000, 0, 65535),
    host: hostName(env, 'HOST', '127.0.0.1'),
    metricsPort: int(env, 'METRICS_PORT', 9464, 0, 65535),
    metricsPortSet: read(env, 'METRICS_PORT') !== undefined,
    topicPrefix: prefix(env, 'TOPIC_PREFIX'),
    keyPrefix: prefix(env, 'KEY_PREFIX'),
    rateLimitPerSec: int(env, 'RATE_LIMIT_PER_SEC', 0, 0, 1_000_000),
    httpRequestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', 10_000, 1, 600_000),
    maxWaitsPerClient: int(env, 'MAX_WAITS_PER_CLIENT', 16, 0, 100_000),
    adminToken: adminToken(env),
    userAuth: userAuth(env),
    stepTimeoutMs,
    maxInFlight: int(env, 'MAX_IN_FLIGHT', defaultMaxInFlight(stepTimeoutMs), 0, 100_000_000),
    orderRetentionMs: retention(env, stepTimeoutMs),
    seedDemo: flag(env, 'SEED_DEMO', embedded),
    memoryFaults: faultsRaw === undefined ? null : parseFaults('MEMORY_FAULTS', faultsRaw),
    inspect: flag(env, 'INSPECT', false),
    logLevel: oneOf(env, 'LOG_LEVEL', LogLevels, 'info'),
  };
}
