/**
 * Keeps a subscription's group member alive. kafkajs restarts a consumer by itself after
 * a crash it deems retriable, but after one it does not (restart=false) the member stays
 * dead: its partitions go to the group's other members, or to nobody, while this process
 * looks healthy. The supervisor then closes it and builds a new member, joining again
 * with capped backoff until it is in or the subscription is closed.
 */
import { systemClock } from '../../../src/clock.ts';
import type { Logger } from '../../../src/log.ts';
import type { Subscription } from '../../../src/ports/broker.ts';
import type { BackoffPolicy } from '../../../src/retry.ts';
import { waitFor, type WaitOptions } from '../../../src/wait-for.ts';

/** One group member: `dead` resolves when it has stopped for good. */
export interface Member {
  readonly dead: Promise<unknown>;
  close(): Promise<void>;
}

export interface SupervisorOptions {
  group: string;
  logger: Logger;
  policy?: BackoffPolicy;
  /** Tests pass one that returns at once. */
  sleep?: WaitOptions['sleep'];
  /** Called after each rebuild has joined (tests wait on it). */
  onRebuilt?: () => void;
}

export class SupervisedSubscription implements Subscription {
  private readonly stopped = new AbortController();
  private closing: Promise<void> | null = null;
  private rebuilding: Promise<void> | null = null;

  private constructor(
    /** null between closing a dead member and its replacement joining. */
    private member: Member | null,
    private readonly build: () => Promise<Member>,
    private readonly opts: SupervisorOptions,
  ) {
    this.watch(member!);
  }

  /** Builds the first member; its failure is the caller's (start-up waits for Kafka elsewhere). */
  static async start(build: () => Promise<Member>, opts: SupervisorOptions): Promise<SupervisedSubscription> {
    return new SupervisedSubscription(await build(), build, opts);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stopped.abort(new Error(`subscription ${this.opts.group} closed`));
      await this.rebuilding;
      await this.member?.close();
    })();
    return this.closing;
  }

  private watch(member: Member): void {
    void member.dead.then((err) => {
      if (this.closing || member !== this.member) return;
      this.rebuilding = this.rebuild(member, err);
    });
  }

  private async rebuild(dead: Member, err: unknown): Promise<void> {
    const { group, logger } = this.opts;
    logger.error({ group, err }, 'kafka consumer stopped for good; building a new member');
    this.member = null;
    await dead.close();
    try {
      const member = await waitFor(`consumer group ${group} (rejoining)`, this.build, {
        logger,
        clock: systemClock,
        signal: this.stopped.signal,
        ...(this.opts.policy ? { policy: this.opts.policy } : {}),
        ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}),
      });
      if (this.stopped.signal.aborted) {
        await member.close();
        return;
      }
      this.member = member;
      this.watch(member);
      logger.info({ group }, 'kafka consumer rejoined its group');
      this.opts.onRebuilt?.();
    } catch (e) {
      if (this.stopped.signal.aborted) return;
      // Building a member fails retriably whatever went wrong, so this is a bug: say so loudly.
      logger.fatal({ group, err: e }, 'kafka consumer could not be rebuilt; this member consumes nothing');
    }
  }
}
