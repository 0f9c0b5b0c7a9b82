/**
 * One partition's log. Offsets only grow; consumed messages are dropped from the head by
 * moving an index, and the array is compacted only once the dead head is both large and
 * at least half of it, so trimming costs O(1) amortised per message.
 */
export interface LogEntry {
  key: string;
  /** JSON text: every delivery parses its own copy, as a real broker's consumer would. */
  value: string;
  headers: Readonly<Record<string, string>> | null;
  /** When it was appended (the broker's clock), as Kafka's message timestamp. */
  at: number;
}

const COMPACT_AT = 1024;

export class PartitionLog {
  private items: (LogEntry | undefined)[] = [];
  /** Index in `items` of the oldest retained entry. */
  private head = 0;
  /** Offset of `items[0]`. */
  private base = 0;

  /** Offset of the oldest retained message. */
  get start(): number {
    return this.base + this.head;
  }

  /** Offset the next appended message gets. */
  get end(): number {
    return this.base + this.items.length;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  append(entry: LogEntry): number {
    this.items.push(entry);
    return this.end - 1;
  }

  at(offset: number): LogEntry | undefined {
    return offset < this.start ? undefined : this.items[offset - this.base];
  }

  /** Drops every message below `offset`. */
  trimTo(offset: number): void {
    const upTo = Math.min(offset, this.end) - this.base;
    if (upTo <= this.head) return;
    if (upTo === this.items.length) {
      this.base = this.end;
      this.items = [];
      this.head = 0;
      return;
    }
    // Release the dropped entries now so their payloads can be collected before compaction.
    for (let i = this.head; i < upTo; i++) this.items[i] = undefined;
    this.head = upTo;
    if (this.head >= COMPACT_AT && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }
}
