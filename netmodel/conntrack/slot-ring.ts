/**
 * A queue of object slots in insertion order, as a ring buffer: append at the tail, take from the
 * head, clear any slot by the position `push` returned (a hole the head skips), iterate in order.
 * The conntrack table keeps its confirmed entries in one (confirm order, for `conntrack -L`) and
 * each expiry FIFO is one with a key per slot (expiry.ts).
 *
 * A removal writes one slot and reads no other object: at ~30,000 entries the neighbours a linked
 * list's unlink loads are cache misses. Positions are absolute slot numbers modulo 2^30, so that the
 * field holding one stays a small integer for V8 (a larger number would box the field in every
 * entry); the ring is at most 2^29 slots. When holes outnumber the slots in use (by `holeShare`),
 * the ring is rebuilt without them and `moved` tells each item its new position.
 */

/** Positions are kept modulo this (a power of two above any capacity). */
const POS_SPAN = 2 ** 30;
const MAX_CAPACITY = 2 ** 29;
/** Holes before a ring is squeezed, at least. */
const SQUEEZE_AT = 1024;

export class SlotRing<T extends object> {
  /** Slots, at (absolute position & mask). */
  private items: (T | undefined)[];
  /** Per slot key (keyed rings only). */
  private keyOf: Float64Array | undefined;
  private mask: number;
  /** Absolute positions: [head, tail) are in the ring. */
  private head = 0;
  private tail = 0;
  /** Cleared slots in [head, tail). */
  private holes = 0;

  /**
   * `keyed`: each slot carries a number key (`push(item, key)`, `headKey`). `holeShare`: squeeze when
   * holes >= SQUEEZE_AT and holes >= holeShare * (slots in the ring). `moved`: an item's new position.
   */
  constructor(
    keyed: boolean,
    private readonly holeShare: number,
    private readonly moved: (item: T, pos: number) => void,
    capacity = 64,
  ) {
    this.items = new Array<T | undefined>(capacity).fill(undefined);
    this.keyOf = keyed ? new Float64Array(capacity) : undefined;
    this.mask = capacity - 1;
  }

  /** Slots in the ring, holes included. */
  get length(): number {
    return this.tail - this.head;
  }

  get empty(): boolean {
    return this.head === this.tail;
  }

  /** The key of the last slot appended (keyed rings; call when not empty). */
  get tailKey(): number {
    return this.keyOf![(this.tail - 1) & this.mask]!;
  }

  /** The key of the head slot (keyed rings; call when not empty). */
  get headKey(): number {
    return this.keyOf![this.head & this.mask]!;
  }

  /** Append; returns the item's position. */
  push(item: T, key = 0): number {
    if (this.tail - this.head > this.mask) this.grow();
    const i = this.tail & this.mask;
    this.items[i] = item;
    if (this.keyOf) this.keyOf[i] = key;
    return this.tail++ % POS_SPAN;
  }

  /** Take the head slot (call when not empty): its item, undefined for a hole. */
  shift(): T | undefined {
    const i = this.head & this.mask;
    const it = this.items[i];
    this.items[i] = undefined;
    this.head++;
    if (it === undefined) this.holes--;
    return it;
  }

  /** Clear the slot at `pos` (an item's position from push or moved). */
  clear(pos: number): void {
    this.items[pos & this.mask] = undefined;
    this.holes++;
    // Holes at the head go at once (a FIFO's usual removal is its oldest slot).
    while (this.head < this.tail && this.items[this.head & this.mask] === undefined) {
      this.head++;
      this.holes--;
    }
    if (this.holes >= SQUEEZE_AT && this.holes >= this.holeShare * (this.tail - this.head)) this.squeeze();
  }

  /** The head slot's item (the oldest; the head is never a hole), undefined when empty. */
  first(): T | undefined {
    return this.head === this.tail ? undefined : this.items[this.head & this.mask];
  }

  /** The item at ring index k (0 = head) in order, undefined for a hole: `for k < length`. */
  at(k: number): T | undefined {
    return this.items[(this.head + k) & this.mask];
  }

  /** Drop every slot. */
  reset(): void {
    this.items.fill(undefined);
    this.head = this.tail = this.holes = 0;
  }

  private grow(): void {
    const cap = this.mask + 1;
    if (cap >= MAX_CAPACITY) throw new Error('kpath internal error: SlotRing over 2^29 slots');
    const items = new Array<T | undefined>(cap * 2).fill(undefined);
    const keys = this.keyOf ? new Float64Array(cap * 2) : undefined;
    const mask = cap * 2 - 1;
    // Same absolute positions, so the positions items hold stay right.
    for (let p = this.head; p < this.tail; p++) {
      items[p & mask] = this.items[p & this.mask];
      if (keys) keys[p & mask] = this.keyOf![p & this.mask]!;
    }
    this.items = items;
    this.keyOf = keys;
    this.mask = mask;
  }

  /** Rebuild without holes, from position 0; each item left learns its position. */
  private squeeze(): void {
    const items = this.items;
    const keys = this.keyOf;
    const mask = this.mask;
    const used = this.tail - this.head - this.holes;
    let cap = 64;
    while (cap < used * 2) cap *= 2;
    const fresh = new Array<T | undefined>(cap).fill(undefined);
    const freshKeys = keys ? new Float64Array(cap) : undefined;
    let j = 0;
    for (let p = this.head; p < this.tail; p++) {
      const it = items[p & mask];
      if (it === undefined) continue;
      fresh[j] = it;
      if (freshKeys) freshKeys[j] = keys![p & mask]!;
      this.moved(it, j);
      j++;
    }
    this.items = fresh;
    this.keyOf = freshKeys;
    this.mask = cap - 1;
    this.head = 0;
    this.tail = j;
    this.holes = 0;
  }
}
