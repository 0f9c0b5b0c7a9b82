/** pino, one JSON line per event. Saga lines always carry orderId. Secrets never reach a line. */
import { pino, type DestinationStream, type Logger } from 'pino';
import { maskCredentials } from './config.ts';

export type { Logger };

const SECRET_KEYS = ['authorization', 'password', 'token', 'adminToken', 'secret'];
const URL_KEYS = ['redisUrl', 'redlockUrls', 'url'];
const DEEPER = [
  'headers.authorization',
  '*.headers.authorization',
  'sasl.password',
  '*.sasl.password',
  '*.kafkaSecurity.sasl.password',
];

/**
 * What pino redacts: authorization, password, token and secret fields on a line or one
 * level down, request headers' authorization, SASL passwords, and Redis URLs, shown with
 * their passwords masked.
 */
export const redaction = {
  paths: [...SECRET_KEYS, ...URL_KEYS].flatMap((key) => [key, `*.${key}`]).concat(DEEPER),
  censor: (value: unknown, path: string[]): unknown => {
    if (!URL_KEYS.includes(path[path.length - 1]!)) return '[REDACTED]';
    if (typeof value === 'string') return maskCredentials(value);
    return Array.isArray(value) ? value.map((v) => (typeof v === 'string' ? maskCredentials(v) : v)) : value;
  },
};

export function createLogger(level: string, name = 'order-saga', destination?: DestinationStream): Logger {
  const options = { level, name, base: { pid: process.pid }, redact: redaction };
  return destination ? pino(options, destination) : pino(options);
}

export const silentLogger: Logger = pino({ level: 'silent' });
