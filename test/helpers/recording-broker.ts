/** A Broker that only records what is published (and can be told to fail), for host tests. */
import { BrokerUnavailableError } from '../../src/errors.ts';
import type { Broker, Subscription } from '../../src/ports/broker.ts';
import type { OutMessage, TopicName } from '../../src/topics.ts';

export interface RecordingBroker extends Broker {
  sent: OutMessage[];
  failNext: number;
  topics(): TopicName[];
  count(topic: TopicName): number;
}

export function recordingBroker(): RecordingBroker {
  const b: RecordingBroker = {
    sent: [],
    failNext: 0,
    async publish(messages) {
      if (b.failNext > 0) {
        b.failNext--;
        throw new BrokerUnavailableError();
      }
      b.sent.push(...structuredClone(messages));
    },
    async subscribe(): Promise<Subscription> {
      return { close: async () => {} };
    },
    async ping() {},
    async close() {},
    topics: () => b.sent.map((m) => m.topic),
    count: (topic) => b.sent.filter((m) => m.topic === topic).length,
  };
  return b;
}
