/**
 * A tick run every interval, never two at once (a slow tick skips the next interval rather
 * than overlapping it); a failed tick is reported and the next one tries again. The
 * sweeper and the effect retention both run this way.
 */
export interface Periodic {
  start(intervalMs: number): void;
  /** Stops the timer and waits for a tick under way. */
  stop(): Promise<void>;
}

export function periodic(tick: () => Promise<unknown>, onError: (err: unknown) => void): Periodic {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  return {
    start(intervalMs) {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        running = tick()
          .catch(onError)
          .finally(() => {
            running = null;
          });
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
