/** The kafkajs client every part of the adapter (admin, producer, consumers) is built from. */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { KafkaSecurity } from '../../../src/config.ts';
import type { Logger } from '../../../src/log.ts';
import { bridge } from './log-bridge.ts';
import type { ClientTuning, KafkaBrokerOptions } from './options.ts';

/** TLS and SASL as kafkajs takes them: `ssl` (true, or the CA to trust) and `sasl`. */
export function securityConfig(
  security: KafkaSecurity | undefined,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  if (!security) return {};
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.ssl) out.ssl = security.caFile === null ? true : { ca: [readFile(security.caFile)] };
  if (security.sasl) {
    const { mechanism, username, password } = security.sasl;
    out.sasl = { mechanism, username, password } as SASLOptions;
  }
  return out;
}

export function clientConfig(opts: KafkaBrokerOptions, tuning: ClientTuning, logger: Logger): KafkaConfig {
  return {
    clientId: opts.clientId ?? 'order-saga',
    brokers: opts.brokers,
    ...securityConfig(opts.security),
    connectionTimeout: tuning.connectionTimeout,
    requestTimeout: tuning.requestTimeout,
    retry: { retries: tuning.retries, initialRetryTime: tuning.initialRetryTime, maxRetryTime: tuning.maxRetryTime },
    logLevel: logLevel.WARN,
    logCreator: bridge(logger),
  };
}

export function createClient(opts: KafkaBrokerOptions, tuning: ClientTuning, logger: Logger): Kafka {
  return new Kafka(clientConfig(opts, tuning, logger));
}
