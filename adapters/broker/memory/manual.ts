/**
 * Manual mode: nothing moves until drain(). Each step the seeded rng picks 1 to 3 of the
 * ready deliveries (a lane offers each key it could start; the reorder fault passes some
 * lanes over; a released zombie handler is one too), starts them together and waits for
 * all of them; so the same seed and the same inputs give the same delivery order.
 */
import { LANE_CONCURRENCY, type Engine } from './engine.ts';
import type { Flight, Lane } from './topology.ts';

const MAX_TOGETHER = 3;

type Candidate = { lane: Lane; offset: number } | { zombie: Flight };

export async function drainLanes(engine: Engine, seed: number, maxSteps: number): Promise<number> {
  const rng = engine.rng;
  let steps = 0;
  for (;;) {
    const pool = candidates(engine);
    if (pool.length === 0) {
      if (engine.parked.length === 0) return steps;
      // Nothing else can run: zombies whose offset is not handled again yet run now.
      engine.releaseAllZombies();
      continue;
    }
    const take = 1 + rng.int(Math.min(MAX_TOGETHER, pool.length));
    for (let i = 0; i < take; i++) {
      const j = i + rng.int(pool.length - i);
      const picked = pool[j]!;
      pool[j] = pool[i]!;
      pool[i] = picked;
    }
    if (steps + take > maxSteps) {
      throw new Error(
        `memory broker: drain() passed ${maxSteps} deliveries with messages still ready (seed ${seed}); ` +
          'a handler keeps failing retriably or handlers keep publishing',
      );
    }
    steps += take;
    const running: Promise<void>[] = [];
    for (const c of pool.slice(0, take)) {
      if ('zombie' in c) {
        engine.released.splice(engine.released.indexOf(c.zombie), 1);
        running.push(engine.runZombie(c.zombie));
      } else if (engine.isReady(c.lane) && c.lane.ready.includes(c.offset)) {
        // A delivery started just before may have stopped the lane (a zombie's crash).
        running.push(engine.start(c.lane, c.offset));
      }
    }
    await Promise.all(running);
  }
}

function candidates(engine: Engine): Candidate[] {
  const pool: Candidate[] = engine.released.map((zombie) => ({ zombie }));
  const ready = engine.lanes.filter((lane) => engine.isReady(lane));
  for (const lane of passOver(engine, ready)) {
    const room = Math.min(lane.ready.length, LANE_CONCURRENCY - lane.flights);
    for (let i = 0; i < room; i++) pool.push({ lane, offset: lane.ready[i]! });
  }
  return pool;
}

function passOver(engine: Engine, ready: Lane[]): Lane[] {
  const p = engine.faults.reorder;
  if (p <= 0) return ready;
  const kept = ready.filter(() => !engine.rng.chance(p));
  if (kept.length === 0) return ready;
  engine.stats.reordered += ready.length - kept.length;
  return kept;
}
