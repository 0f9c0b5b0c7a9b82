import type { Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import type { Broker } from '../ports/broker.ts';
import type { Store } from '../ports/store.ts';

/** What every worker is given: ports only, never a client library. */
export interface WorkerDeps {
  store: Store;
  broker: Broker;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  /** Consumer group id, already prefixed. */
  group: string;
}
