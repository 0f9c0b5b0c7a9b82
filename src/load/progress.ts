/**
 * Progress on stderr while the run goes: a cli-progress bar on a TTY, else one plain line
 * every few seconds (CI logs, pipes). Off with --quiet and in tests.
 */
import cliProgress from 'cli-progress';

export interface Counts {
  total: number;
  posted: number;
  terminal: number;
  completed: number;
  rejected: number;
  cancelled: number;
  errors: number;
  /** Refused with 503 OVERLOADED and not (or no longer) retried. */
  shed: number;
}

export interface Progress {
  /** Called on a timer with the counts so far. */
  tick(counts: Counts): void;
  stop(counts: Counts): void;
}

const PLAIN_EVERY_MS = 5_000;

export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!enabled) return { tick() {}, stop() {} };
  const started = performance.now();
  let lastTerminal = 0;
  let lastAt = started;
  const rate = (c: Counts): number => {
    const now = performance.now();
    const r = now > lastAt ? ((c.terminal - lastTerminal) * 1000) / (now - lastAt) : 0;
    lastTerminal = c.terminal;
    lastAt = now;
    return Math.round(r);
  };

  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format:
          'load |{bar}| {value}/{total} ended | {posted} posted | {completed} ok {rejected} rej {cancelled} canc {shed} shed | {rate}/s | {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let startedBar = false;
    const values = (c: Counts) => ({
      posted: c.posted,
      completed: c.completed,
      rejected: c.rejected,
      cancelled: c.cancelled,
      shed: c.shed,
    });
    return {
      tick(c) {
        if (!startedBar) {
          bar.start(c.total, c.terminal, { ...values(c), rate: 0 });
          startedBar = true;
        }
        bar.update(c.terminal, { ...values(c), rate: rate(c) });
      },
      stop(c) {
        if (startedBar) {
          bar.update(c.terminal, values(c));
          bar.stop();
        }
      },
    };
  }

  let lastLine = started;
  const line = (c: Counts, r: number) =>
    `load: ${c.terminal}/${c.total} ended (${c.completed} completed, ${c.rejected} rejected, ${c.cancelled} cancelled), ` +
    `${c.posted} posted, ${c.shed} shed, ${c.posted - c.terminal - c.errors - c.shed} in flight, ${r}/s, ${((performance.now() - started) / 1000).toFixed(1)} s\n`;
  return {
    tick(c) {
      const now = performance.now();
      if (now - lastLine < PLAIN_EVERY_MS) return;
      lastLine = now;
      stream.write(line(c, rate(c)));
    },
    stop(c) {
      stream.write(line(c, rate(c)));
    },
  };
}
