/**
 * A binary min-heap of (key, item, tag) in parallel arrays: no object per element. The timers of
 * conntrack (conntrack/expiry.ts) and IPVS (ipvs/timer-queues.ts) keep their slots in FIFOs, one per
 * timeout, whose keys arrive in order; a key that arrives out of order (a caller whose clock went
 * back) goes here instead. The tag is the caller's (conntrack: the slot's id, to tell a stale slot).
 */
export class MinHeap<T> {
  private readonly keys: number[] = [];
  private readonly items: T[] = [];
  private readonly tags: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** The least key, Infinity when empty. */
  get topKey(): number {
    return this.keys.length > 0 ? this.keys[0]! : Number.POSITIVE_INFINITY;
  }

  /** The least key's tag (0 when empty). */
  get topTag(): number {
    return this.tags.length > 0 ? this.tags[0]! : 0;
  }

  /** Every item, in no particular order. */
  values(): readonly T[] {
    return this.items;
  }

  push(key: number, item: T, tag = 0): void {
    const keys = this.keys;
    const items = this.items;
    const tags = this.tags;
    let i = keys.length;
    keys.push(key);
    items.push(item);
    tags.push(tag);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      items[i] = items[parent]!;
      tags[i] = tags[parent]!;
      i = parent;
    }
    keys[i] = key;
    items[i] = item;
    tags[i] = tag;
  }

  /** Takes the element with the least key (the heap must not be empty) and returns its item. */
  pop(): T {
    const keys = this.keys;
    const items = this.items;
    const tags = this.tags;
    const top = items[0]!;
    const lastKey = keys.pop()!;
    const lastItem = items.pop()!;
    const lastTag = tags.pop()!;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && keys[r]! < keys[l]! ? r : l;
        if (keys[m]! >= lastKey) break;
        keys[i] = keys[m]!;
        items[i] = items[m]!;
        tags[i] = tags[m]!;
        i = m;
      }
      keys[i] = lastKey;
      items[i] = lastItem;
      tags[i] = lastTag;
    }
    return top;
  }
}
