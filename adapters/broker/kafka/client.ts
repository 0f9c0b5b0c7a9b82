/** The kafkajs client every part of the adapter (admin, producer, consumers) is built from. */
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from '../../../src/log.ts';
import { bridge } from './log-bridge.ts';
import type { ClientTuning, KafkaBrokerOptions } from './options.ts';

export function createClient(opts: KafkaBrokerOptions, tuning: ClientTuning, logger: Logger): Kafka {
  return new Kafka({
    clientId: opts.clientId ?? 'order-saga',
    brokers: opts.brokers,
    connectionTimeout: tuning.connectionTimeout,
    requestTimeout: tuning.requestTimeout,
    retry: { retries: tuning.retries, initialRetryTime: tuning.initialRetryTime, maxRetryTime: tuning.maxRetryTime },
    logLevel: logLevel.WARN,
    logCreator: bridge(logger),
  });
}
