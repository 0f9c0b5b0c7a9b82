/**
 * What a dead letter carries, and the last N of them kept for inspection in a ring, so a
 * flood of bad messages cannot grow memory.
 */
import { errorCode } from '../../../src/errors.ts';
import { DlqHeaders, type Delivery } from '../../../src/ports/broker.ts';

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

/** The original headers plus where the message came from and why it was refused. */
export function deadLetterHeaders(
  original: Readonly<Record<string, string>> | null,
  from: Delivery,
  err: unknown,
): Record<string, string> {
  return {
    ...original,
    [DlqHeaders.errorCode]: errorCode(err),
    [DlqHeaders.errorMessage]: err instanceof Error ? err.message : String(err),
    [DlqHeaders.sourceTopic]: from.topic,
    [DlqHeaders.sourcePartition]: String(from.partition),
    [DlqHeaders.sourceOffset]: String(from.offset),
  };
}
