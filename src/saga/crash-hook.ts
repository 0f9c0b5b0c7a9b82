/** Fault injection for the saga host (MEMORY_FAULTS and tests): a host that dies between its snapshot write and its sends. */
import { SimulatedCrashError } from '../errors.ts';

/** An `afterCommit` hook that "dies" whenever `chance()` says so. */
export const crashWhen =
  (chance: () => boolean) =>
  (_orderId: string): void => {
    if (chance()) throw new SimulatedCrashError('between snapshot write and send');
  };
