/** pino, one JSON line per event. Saga lines always carry orderId. Secrets never reach a line. */
import { pino, type DestinationStream, type Logger } from 'pino';
import { maskCredentials } from './config.ts';

export type { Logger };

const URL_KEYS = ['redisUrl', 'redlockUrls'];

/**
 * What pino redacts: authorization headers, passwords, tokens and secrets where this code
 * base puts them, and Redis URLs, shown with their passwords masked. Paths are spelled
 * out: pino's wildcard paths cost several times the line they redact.
 */
export const redaction = {
  paths: [
    'authorization',
    'password',
    'token',
    'adminToken',
    'secret',
    'headers.authorization',
    'req.headers.authorization',
    'config.adminToken',
    'sasl.password',
    'security.sasl.password',
    'kafkaSecurity.sasl.password',
    'config.kafkaSecurity.sasl.password',
    ...URL_KEYS,
    ...URL_KEYS.map((k) => `config.${k}`),
  ],
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
