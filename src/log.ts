/** pino, one JSON line per event. Saga lines always carry orderId. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'order-saga'): Logger {
  return pino({ level, name, base: { pid: process.pid } });
}

export const silentLogger: Logger = pino({ level: 'silent' });
