/**
 * The last N dead letters kept for inspection in a ring, so a flood of bad messages
 * cannot grow memory. What a letter carries is planDeadLetter's (src/messaging/dead-letter.ts).
 */
export interface DeadLetter {
  topic: string;
  key: string;
  value: unknown;
  headers: Record<string, string>;
}

interface Stored {
  topic: string;
  key: string;
  value: string;
  headers: Readonly<Record<string, string>>;
}

export class DeadLetterRing {
  private readonly ring: (Stored | undefined)[];
  private next = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.ring = new Array<Stored | undefined>(capacity);
  }

  push(item: Stored): void {
    this.ring[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Oldest first; fresh objects, so a caller cannot edit what is kept. */
  list(): DeadLetter[] {
    const out: DeadLetter[] = [];
    const first = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) {
      const s = this.ring[(first + i) % this.capacity]!;
      out.push({ topic: s.topic, key: s.key, value: JSON.parse(s.value) as unknown, headers: { ...s.headers } });
    }
    return out;
  }
}
