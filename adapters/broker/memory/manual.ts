/**
 * Manual mode: nothing moves until drain(). Each step the seeded rng picks 1 to 3 of the
 * ready lanes (after the reorder fault passes some over), starts them together and waits
 * for all of them; so the same seed and the same inputs give the same delivery order.
 */
import type { Engine } from './engine.ts';
import type { Lane } from './topology.ts';

const MAX_TOGETHER = 3;

export async function drainLanes(engine: Engine, seed: number, maxSteps: number): Promise<number> {
  const rng = engine.rng;
  let steps = 0;
  for (;;) {
    const ready = engine.lanes.filter((lane) => engine.isReady(lane));
    if (ready.length === 0) return steps;
    const pool = passOver(engine, ready);
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
    await Promise.all(pool.slice(0, take).map((lane) => engine.start(lane)));
  }
}

function passOver(engine: Engine, ready: Lane[]): Lane[] {
  const p = engine.faults.reorder;
  if (p <= 0) return ready;
  const kept = ready.filter(() => !engine.rng.chance(p));
  if (kept.length === 0) return ready;
  engine.stats.reordered += ready.length - kept.length;
  return kept;
}
