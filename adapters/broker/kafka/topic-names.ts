/** Physical topic names: every name on the wire is TOPIC_PREFIX + the registry name (dead letters too). */
import type { TopicName } from '../../../src/topics.ts';

/** Registry names <-> names on the wire. */
export class TopicNames {
  constructor(readonly prefix: string) {}
  physical(name: string): string {
    return this.prefix + name;
  }
  /** The registry name of a physical topic (a DLQ name for a dead-letter topic). */
  logical(physical: string): TopicName {
    return (physical.startsWith(this.prefix) ? physical.slice(this.prefix.length) : physical) as TopicName;
  }
}
