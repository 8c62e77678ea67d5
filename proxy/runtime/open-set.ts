/**
 * The open connections (ctx.open): add, delete, size and iteration, like a Set, but kept in an array
 * with each member's index on the member itself (swap-remove), so a connection's arrival and end
 * touch one array slot and no hash table. Measured with bench/proxy-js.mjs: with Sets and Maps
 * holding the connections in flight, V8 promoted ~2.5 MB of short-lived connection objects per young
 * collection (they died in the old generation and cost major collections); slot arrays do not.
 */
export interface OpenMember {
  /** Index in the OpenSet holding it; -1 when in none. */
  openSlot: number;
  destroy(): void;
  buffered(): number;
}

export class OpenSet<T extends OpenMember = OpenMember> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  add(m: T): void {
    if (m.openSlot >= 0) return;
    m.openSlot = this.items.length;
    this.items.push(m);
  }

  delete(m: T): boolean {
    const i = m.openSlot;
    const items = this.items;
    if (i < 0 || items[i] !== m) return false;
    const last = items.pop()!;
    if (last !== m) {
      items[i] = last;
      last.openSlot = i;
    }
    m.openSlot = -1;
    return true;
  }

  has(m: T): boolean {
    return m.openSlot >= 0 && this.items[m.openSlot] === m;
  }

  /** A copy: members may leave while the caller walks it (destroy). */
  [Symbol.iterator](): IterableIterator<T> {
    return [...this.items][Symbol.iterator]();
  }
}
