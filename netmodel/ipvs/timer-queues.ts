/**
 * The IPVS connection timers as a set of FIFO queues, one per timeout, with a binary heap behind them.
 *
 * A connection's timer restarts at `now + timeout` (ip_vs_conn_put), and the timeouts come from a
 * short list (the TCP states' and UDP's, the 3 s of a new entry, a template's persistence, the 60 s
 * of expire_later). As time only moves forward, the expiries pushed with one timeout come in
 * non-decreasing order: a queue per timeout is sorted by construction, and the next timer is the
 * least of a dozen queue heads. A push is an append and a pop takes a head, where a heap of ~30,000
 * timers (TIME_WAIT entries at bench rates) moved a slot through ~15 levels scattered over memory
 * at every push and pop. A key lower than its queue's last (a caller whose clock went back) goes
 * to the heap, so any order of pushes stays correct.
 *
 * A slot is (key, entry); slots are never updated in place (the connection table skips a slot
 * whose key is no longer its entry's, as it did with the heap alone). A FIFO slot can be released
 * (`release`, by the handle `push` returned): its entry goes at once, as a deleted kernel timer
 * lets its connection go, and the slot pops later with no entry (pop returns undefined).
 *
 * Released slots are squeezed out of a FIFO once they are most of it: at real-traffic rates a
 * client port comes back within seconds (wrk's ~28,000 ports at ~10,000 connections a second), so
 * nearly every connection is removed by the next SYN on its port long before its 60 s SYN_RECV
 * slot is due; without the squeeze that FIFO held a minute of connections (~600,000 slots, keys
 * and items, ~10 MB that every full garbage collection scanned) for ~28,000 live entries. A squeeze
 * moves the live slots to new positions, so their handles change: the `moved` callback given to
 * the constructor hears each (item, old handle, new handle). The kernel deletes a timer outright
 * (del_timer in ip_vs_conn_expire); no slot outlives it there.
 */
import { MinHeap } from '../min-heap.js';

/** Compact a queue once this many slots at its head are taken (and they are half of it). */
const COMPACT_AT = 4096;
/** Squeeze the released slots out of a queue once this many are queued (and they are half of it). */
const SQUEEZE_AT = 1024;

/** Positions of FIFO slots in handles, modulo this (a handle stays a V8 small integer). */
const POS_MASK = 0xffffff;
/** FIFOs a handle can name (handle = position * MAX_FIFOS + FIFO index); more get no handles. */
const MAX_FIFOS = 64;

/**
 * Arrays keep their length when a queue drains or compacts (a shorter length trims V8's backing
 * store, and the next pushes grow it again: a copy of the whole queue each time); they are cut back
 * only when they are this many times longer than what they hold (and over TRIM_MIN).
 */
const TRIM_RATIO = 4;
const TRIM_MIN = 8192;

class Fifo<T> {
  keys: number[] = [];
  items: (T | undefined)[] = [];
  head = 0;
  /** One past the last queued slot (the arrays may be longer: see TRIM_RATIO). */
  end = 0;
  /** The position (counted since the FIFO was made, modulo POS_MASK + 1) of keys[0]. */
  base = 0;
  /** Released slots still queued (from head on). */
  holes = 0;
  /** Its index in TimerQueues.fifos. */
  constructor(readonly index: number) {}

  get empty(): boolean {
    return this.head === this.end;
  }

  /** The key of the last queued slot (the queue is not empty). */
  get lastKey(): number {
    return this.keys[this.end - 1]!;
  }

  /** Appends a slot; returns its position. */
  push(key: number, item: T): number {
    const i = this.end++;
    if (i < this.keys.length) {
      this.keys[i] = key;
      this.items[i] = item;
    } else {
      this.keys.push(key);
      this.items.push(item);
    }
    return (this.base + i) & POS_MASK;
  }

  /**
   * Lets the slot at `pos` drop `item`, if it still holds it (it pops with none). Returns whether
   * the queue should now be squeezed (its released slots are most of it).
   */
  release(pos: number, item: T): boolean {
    const i = (pos - this.base) & POS_MASK;
    if (i < this.head || i >= this.end || this.items[i] !== item) return false;
    this.items[i] = undefined;
    this.holes++;
    return this.holes >= SQUEEZE_AT && this.holes * 2 > this.end - this.head;
  }

  shift(): T | undefined {
    const it = this.items[this.head];
    if (it === undefined) this.holes--;
    else this.items[this.head] = undefined; // let the entry go
    this.head++;
    const n = this.end;
    if (this.head === n) {
      // Every slot popped, each item cleared as it went.
      this.head = 0;
      this.end = 0;
      this.base = (this.base + n) & POS_MASK;
      this.trim();
    } else if (this.head >= COMPACT_AT && this.head * 2 >= n) {
      // Move the queued slots to the front, in place (splice would allocate the removed part);
      // positions are counted from base, so every handle stays valid.
      const keys = this.keys;
      const items = this.items;
      const head = this.head;
      for (let i = head; i < n; i++) {
        keys[i - head] = keys[i]!;
        items[i - head] = items[i];
      }
      this.end = n - head;
      for (let i = this.end; i < n; i++) items[i] = undefined;
      this.base = (this.base + head) & POS_MASK;
      this.head = 0;
      this.trim();
    }
    return it;
  }

  /**
   * Drops the released slots, keeping the others in order at new positions (after every position
   * handed out so far); `moved` hears each kept item with its old and new handle. Returns how many
   * slots went.
   */
  squeeze(moved: ((item: T, from: number, to: number) => void) | undefined): number {
    const keys = this.keys;
    const items = this.items;
    const n = this.end;
    const base = this.base;
    const next = (base + n) & POS_MASK;
    const named = moved !== undefined && this.index < MAX_FIFOS;
    let j = 0;
    for (let i = this.head; i < n; i++) {
      const it = items[i];
      if (it === undefined) continue;
      keys[j] = keys[i]!;
      items[j] = it;
      if (named)
        moved(
          it,
          ((base + i) & POS_MASK) * MAX_FIFOS + this.index,
          ((next + j) & POS_MASK) * MAX_FIFOS + this.index,
        );
      j++;
    }
    const gone = n - this.head - j;
    for (let i = j; i < n; i++) items[i] = undefined;
    this.end = j;
    this.head = 0;
    this.base = next;
    this.holes = 0;
    this.trim();
    return gone;
  }

  /** Cuts the arrays back to what they hold once they are far longer (TRIM_RATIO). */
  private trim(): void {
    const len = this.keys.length;
    if (len > TRIM_MIN && len > TRIM_RATIO * this.end) {
      this.keys.length = this.end;
      this.items.length = this.end;
    }
  }
}

export class TimerQueues<T> {
  /** The FIFOs by timeout (ms), and the same in an array for the scans. */
  private readonly byTimeout = new Map<number, Fifo<T>>();
  private readonly fifos: Fifo<T>[] = [];
  /** Keys that came out of order. */
  private readonly heap = new MinHeap<T>();
  /** The least key of all slots (Infinity when none), so "is anything due" is one comparison. */
  private least = Number.POSITIVE_INFINITY;
  private count = 0;
  /** The timeout and FIFO of the last push. */
  private lastTimeout = -1;
  private lastFifo: Fifo<T> | undefined = undefined;

  /**
   * `moved`: a squeeze gave a live slot a new handle (see the file's comment); the caller that keeps
   * handles updates its own (an item may sit in several slots: compare with the handle it holds).
   */
  constructor(private readonly moved?: (item: T, from: number, to: number) => void) {}

  /** Slots held (live, stale and released ones not yet squeezed out). */
  get size(): number {
    return this.count;
  }

  /** The least key, Infinity when empty. */
  get nextKey(): number {
    return this.least;
  }

  /**
   * A slot for `item` at `key`, set by a restart with `timeout` (the FIFO it joins). Returns a handle
   * for `release`, or -1 when the slot cannot be released (it went to the heap).
   */
  push(key: number, timeout: number, item: T): number {
    // The FIFO of the last push first (a connection's restarts come in runs of one timeout).
    let q = this.lastFifo;
    if (q === undefined || this.lastTimeout !== timeout) {
      q = this.byTimeout.get(timeout);
      if (!q) {
        q = new Fifo<T>(this.fifos.length);
        this.byTimeout.set(timeout, q);
        this.fifos.push(q);
      }
      this.lastTimeout = timeout;
      this.lastFifo = q;
    }
    let handle = -1;
    if (q.empty || q.lastKey <= key) {
      const pos = q.push(key, item);
      if (q.index < MAX_FIFOS) handle = pos * MAX_FIFOS + q.index;
    } else this.heap.push(key, item);
    this.count++;
    if (key < this.least) this.least = key;
    return handle;
  }

  /**
   * The slot `handle` (from push) no longer holds `item`: it stays, keyed as it was, and pops with no
   * item, unless its FIFO is squeezed first (its released slots are most of it), which drops it and
   * gives the FIFO's live slots new handles (the constructor's `moved`). Nothing happens if that slot
   * already popped (or holds something else).
   */
  release(handle: number, item: T): void {
    if (handle < 0) return;
    const q = this.fifos[handle % MAX_FIFOS];
    if (!q?.release(Math.floor(handle / MAX_FIFOS), item)) return;
    this.count -= q.squeeze(this.moved);
    this.least = this.scanLeast();
  }

  /**
   * Takes the slot with the least key (the caller read it from nextKey); returns its item, undefined
   * for a released slot.
   */
  pop(): T | undefined {
    const key = this.least;
    let item: T | undefined;
    let found = false;
    if (this.heap.size > 0 && this.heap.topKey === key) {
      item = this.heap.pop();
      found = true;
    } else {
      const fifos = this.fifos;
      for (let i = 0; i < fifos.length; i++) {
        const q = fifos[i]!;
        if (!q.empty && q.keys[q.head] === key) {
          item = q.shift();
          found = true;
          break;
        }
      }
    }
    if (!found) throw new Error('TimerQueues.pop: no slot at the least key');
    this.count--;
    this.least = this.scanLeast();
    return item;
  }

  /** Every slot's item (live and stale, in no particular order; released slots have none). */
  items(): T[] {
    const out: T[] = [];
    for (const q of this.fifos)
      for (let i = q.head; i < q.end; i++) {
        const it = q.items[i];
        if (it !== undefined) out.push(it);
      }
    for (const it of this.heap.values()) out.push(it);
    return out;
  }

  private scanLeast(): number {
    let m = this.heap.topKey;
    const fifos = this.fifos;
    for (let i = 0; i < fifos.length; i++) {
      const q = fifos[i]!;
      if (!q.empty) {
        const k = q.keys[q.head]!;
        if (k < m) m = k;
      }
    }
    return m;
  }
}
