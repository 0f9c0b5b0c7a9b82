/**
 * Auto mode: deliveries run by themselves. Lanes that become ready queue up and one
 * setImmediate pass starts all they have ready (up to LANE_CONCURRENCY keys a lane). A
 * lane whose delivery just settled goes straight on to its next messages, up to BURST
 * times in a row, before yielding to the pump: fast, yet other lanes and I/O are not starved.
 */
import type { Engine } from './engine.ts';
import type { Lane } from './topology.ts';

const BURST = 64;
const REORDER_MAX_MS = 5;

export function startAutoScheduler(engine: Engine): void {
  let queue: Lane[] = [];
  let spare: Lane[] = [];
  let scheduled = false;

  const begin = (lane: Lane): void => {
    if (engine.rng.chance(engine.faults.reorder)) {
      // Postponed, so messages of other topics and partitions overtake this one.
      engine.stats.reordered++;
      engine.hold(lane, 1 + engine.rng.int(REORDER_MAX_MS));
      return;
    }
    do void engine.start(lane);
    while (engine.isReady(lane));
  };

  const pump = (): void => {
    scheduled = false;
    const batch = queue;
    queue = spare;
    for (const lane of batch) {
      lane.queued = false;
      lane.burst = 0;
      if (engine.isReady(lane)) begin(lane);
    }
    batch.length = 0;
    spare = batch;
  };

  engine.onReady = (lane, continuing) => {
    if (continuing && lane.burst < BURST) {
      lane.burst++;
      begin(lane);
      return;
    }
    if (lane.queued) return;
    lane.queued = true;
    queue.push(lane);
    if (!scheduled) {
      scheduled = true;
      setImmediate(pump);
    }
  };
}
