/** kafkajs's own log lines, bridged to pino at warn and above. */
import { logLevel, type LogEntry, type logCreator } from 'kafkajs';
import type { Logger } from '../../../src/log.ts';

// Deliberate choices kafkajs warns about at every start; we keep them and say why here:
// bounded producer retries (a publish must fail in bounded time; the producer is replaced
// after a failure so no sequence number is reused), and the v2 default partitioner (chosen
// explicitly: murmur2, as Java clients, so one key maps to one partition number on every topic).
const EXPECTED_WARNINGS = [
  'Limiting retries for the idempotent producer',
  'KafkaJS v2.0.0 switched default partitioner',
];

/** kafkajs log lines go to pino at warn and above. */
export function bridge(logger: Logger): logCreator {
  const log = logger.child({ component: 'kafkajs' });
  return () =>
    ({ namespace, level, log: entry }: LogEntry) => {
      const { message, timestamp: _t, logger: _l, ...fields } = entry;
      if (level === logLevel.WARN && EXPECTED_WARNINGS.some((w) => message.startsWith(w))) return;
      // kafkajs logs every error answer of the protocol (a heartbeat told to rejoin, a
      // partition whose leader is still moving in) at error level, and then handles it; our
      // callers see real failures through their own errors, so these are debug lines here
      // (a fresh topic's "not the leader" answers at every start were only noise).
      // Likewise a refused connection: while Kafka is away it comes several times a second,
      // and the caller's own wait line says so every few seconds.
      const routine =
        (namespace === 'Connection' && (message.startsWith('Response ') || message.startsWith('Connection error'))) ||
        (namespace === 'BrokerPool' && message.startsWith('Failed to connect to seed broker'));
      if (routine) log.debug({ namespace, ...fields }, message);
      else if (level === logLevel.ERROR) log.error({ namespace, ...fields }, message);
      else if (level === logLevel.WARN) log.warn({ namespace, ...fields }, message);
    };
}
