/**
 * A binary min-heap of string keys by numeric score, with O(log n) insert, move and
 * delete by key (each node knows its slot). Used for the deadline index and for expiries.
 *
 * Equal scores are ordered by key in code-unit order: a Redis sorted set orders equal
 * scores by member, so both adapters hand out due entries in the same order (the two
 * agree for the ASCII ids the schemas allow).
 *
 * Nodes are moved in place rather than deleted lazily, so the heap never holds more
 * than its live keys: memory follows the index, not the history of writes to it.
 */
interface Node {
  readonly key: string;
  score: number;
  slot: number;
}

export interface Entry {
  key: string;
  score: number;
}

export class KeyedMinHeap {
  private readonly heap: Node[] = [];
  private readonly nodes = new Map<string, Node>();

  get size(): number {
    return this.heap.length;
  }

  score(key: string): number | undefined {
    return this.nodes.get(key)?.score;
  }

  /** Inserts the key, or moves it to its new score. */
  set(key: string, score: number): void {
    // NaN compares false both ways and would silently break the heap order.
    if (Number.isNaN(score)) throw new RangeError(`score of ${key} is NaN`);
    const node = this.nodes.get(key);
    if (node === undefined) {
      const fresh: Node = { key, score, slot: this.heap.length };
      this.heap.push(fresh);
      this.nodes.set(key, fresh);
      this.up(fresh.slot);
      return;
    }
    const before = node.score;
    node.score = score;
    if (score < before) this.up(node.slot);
    else this.down(node.slot);
  }

  delete(key: string): boolean {
    const node = this.nodes.get(key);
    if (node === undefined) return false;
    this.removeAt(node.slot);
    return true;
  }

  peek(): Entry | undefined {
    const top = this.heap[0];
    return top === undefined ? undefined : { key: top.key, score: top.score };
  }

  pop(): Entry | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    this.removeAt(0);
    return { key: top.key, score: top.score };
  }

  private removeAt(slot: number): void {
    const node = this.heap[slot]!;
    const last = this.heap.pop()!;
    this.nodes.delete(node.key);
    if (last === node) return;
    this.place(last, slot);
    // The moved node may belong above or below its new slot.
    this.up(slot);
    this.down(last.slot);
  }

  private less(a: Node, b: Node): boolean {
    return a.score < b.score || (a.score === b.score && a.key < b.key);
  }

  private place(node: Node, slot: number): void {
    this.heap[slot] = node;
    node.slot = slot;
  }

  private up(slot: number): void {
    const node = this.heap[slot]!;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = this.heap[parentSlot]!;
      if (!this.less(node, parent)) break;
      this.place(parent, slot);
      slot = parentSlot;
    }
    this.place(node, slot);
  }

  private down(slot: number): void {
    const node = this.heap[slot]!;
    const n = this.heap.length;
    for (;;) {
      const left = 2 * slot + 1;
      if (left >= n) break;
      const right = left + 1;
      let childSlot = left;
      if (right < n && this.less(this.heap[right]!, this.heap[left]!)) childSlot = right;
      const child = this.heap[childSlot]!;
      if (!this.less(child, node)) break;
      this.place(child, slot);
      slot = childSlot;
    }
    this.place(node, slot);
  }
}
