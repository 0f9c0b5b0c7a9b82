/**
 * What a starting role is waiting for, for /healthz: `starting` until the composition
 * root says it is ready, with the services it is still trying to reach meanwhile.
 */
export type Service = 'store' | 'broker';

export class Readiness {
  private ready = false;
  private readonly pending = new Map<Service, number>();

  get isReady(): boolean {
    return this.ready;
  }

  /** The services some start-up step is trying to reach right now, sorted. */
  waitingFor(): Service[] {
    return [...this.pending.keys()].sort();
  }

  /** Runs `step` with `service` listed as awaited until it settles. */
  async during<T>(service: Service, step: () => Promise<T>): Promise<T> {
    this.pending.set(service, (this.pending.get(service) ?? 0) + 1);
    try {
      return await step();
    } finally {
      const left = (this.pending.get(service) ?? 1) - 1;
      if (left === 0) this.pending.delete(service);
      else this.pending.set(service, left);
    }
  }

  markReady(): void {
    this.ready = true;
  }
}
