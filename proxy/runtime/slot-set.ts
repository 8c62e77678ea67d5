/**
 * A set kept in an array, with each member's index on the member itself (swap-remove): a member's
 * arrival and departure touch one array slot and no hash table. Holds what lives for one connection
 * (the open connections, ctx.open; the live conntrack table's entries). Measured with
 * bench/proxy-js.mjs: with Sets and Maps holding the connections in flight, V8 promoted ~2.5 MB of
 * short-lived connection objects per young collection (they died in the old generation and cost
 * major collections); slot arrays do not.
 */
export interface Slotted {
  /** Index in the SlotSet holding it; -1 when in none. */
  slot: number;
}

/** A member of ctx.open: an open TCP connection pair. */
export interface OpenMember extends Slotted {
  destroy(): void;
  buffered(): number;
}

export class SlotSet<T extends Slotted> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  add(m: T): void {
    if (m.slot >= 0) return;
    m.slot = this.items.length;
    this.items.push(m);
  }

  delete(m: T): boolean {
    const i = m.slot;
    const items = this.items;
    if (i < 0 || items[i] !== m) return false;
    const last = items.pop()!;
    if (last !== m) {
      items[i] = last;
      last.slot = i;
    }
    m.slot = -1;
    return true;
  }

  has(m: T): boolean {
    return m.slot >= 0 && this.items[m.slot] === m;
  }

  /** The members now, in no particular order (a copy: they may leave while the caller walks it). */
  toArray(): T[] {
    return this.items.slice();
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.toArray()[Symbol.iterator]();
  }
}
