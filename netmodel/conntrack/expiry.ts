/**
 * The conntrack table's expiry timers: which confirmed entries the gc worker may find expired, without
 * reading every entry (what nf_conntrack's gc_worker does by scanning the hash; here a scan of ~30,000
 * TIME_WAIT entries every 2 s of clock was a tenth of a proxied connection's emulated-kernel work).
 *
 * Every entry whose timer is armed holds exactly one slot: (key, entry) in one FIFO per timeout value
 * (ms), with key <= the entry's expiresAt. A timer restarted with the timeout it already has moves
 * nothing (the common case: most packets of a flow keep its state); a restart with another timeout
 * clears the old slot (the entry keeps its slot's position) and appends a slot at now + timeout to
 * that timeout's FIFO. As time moves forward, the keys of one FIFO come in order, so `popDue` takes
 * slots from the heads only. A due slot whose entry was refreshed since (expiresAt moved later with
 * the same timeout) is re-armed by the table (`rearm`) on a FIFO of power-of-two delays at most its
 * time left: at most log2(timeout / gc interval) such re-checks per refresh period, and only for
 * entries that saw packets after their last state change. A key below its FIFO's last (a caller whose
 * clock went back) goes to a binary heap instead, so any order of times stays correct.
 *
 * The slot of an entry that dies is cleared at once (its position is on the entry), so no slot keeps a
 * dead entry alive for the rest of its timeout (an ESTABLISHED entry's slot is 5 days out); a FIFO
 * whose slots are mostly cleared is squeezed, rewriting the positions of the few entries still in it
 * (slot-ring.ts).
 */

import { MinHeap } from '../min-heap.js';
import type { CtEntry } from './entry.js';
import { SlotRing } from './slot-ring.js';

/** CtEntry.timerQ when no slot is armed. */
export const NO_TIMER = -1;
/** CtEntry.timerQ for a slot in the heap (the entry's timerPos is the slot's id). */
const IN_HEAP = -2;
/** Squeeze a FIFO when this share of its slots are cleared. */
const FIFO_HOLE_SHARE = 0.875;

/** Squeezing a FIFO moves its entries: their positions follow. */
function movedTimer(e: CtEntry, pos: number): void {
  e.timerPos = pos;
}

class Fifo {
  readonly ring = new SlotRing<CtEntry>(true, FIFO_HOLE_SHARE, movedTimer);
  constructor(
    /** The timeout of the slots, ms. */
    readonly delay: number,
    /** Its index in ExpiryQueues.fifos (CtEntry.timerQ). */
    readonly index: number,
  ) {}
}

export class ExpiryQueues {
  /** FIFOs by timeout (ms); a re-arm's power-of-two delay d under -1 - d. */
  private readonly byDelay = new Map<number, Fifo>();
  private readonly fifos: Fifo[] = [];
  /** The latest `now` a slot was armed at: a restart at or after it has key <= the new expiry. */
  private high = Number.NEGATIVE_INFINITY;
  /** Out-of-order slots (tagged with their slot ids). */
  private readonly heap = new MinHeap<CtEntry>();
  private nextHeapId = 0;
  /** popDue's place: the FIFO it is draining. */
  private cursor = 0;

  /**
   * The entry's timer restarted at `now` with `delay` ms (its expiresAt is now + delay). Moves
   * nothing when its slot is on the same FIFO and the clock has not gone back.
   */
  restart(e: CtEntry, now: number, delay: number): void {
    const q = e.timerQ;
    if (q >= 0 && now >= this.high && this.fifos[q]!.delay === delay) return;
    this.clear(e);
    this.arm(e, now + delay, delay, now);
  }

  /**
   * A due slot's entry (from popDue) has not expired: re-arm it on the FIFO of the largest power of
   * two (ms) not above its time left.
   */
  rearm(e: CtEntry, now: number): void {
    const left = e.expiresAt - now;
    if (!(left >= 1)) {
      // Less than a millisecond left (a fractional clock): a slot at the expiry itself.
      if (now > this.high) this.high = now;
      this.heapPush(e.expiresAt, e);
      return;
    }
    let delay = 2 ** Math.floor(Math.log2(left));
    if (delay > left) delay /= 2;
    this.arm(e, now + delay, -1 - delay, now);
  }

  /** Forget the entry's slot (it died, or its timer moves to another FIFO). */
  clear(e: CtEntry): void {
    const qi = e.timerQ;
    if (qi === NO_TIMER) return;
    e.timerQ = NO_TIMER;
    if (qi === IN_HEAP) return; // the heap slot goes stale: popDue checks its id
    this.fifos[qi]!.ring.clear(e.timerPos);
  }

  /**
   * The next entry whose slot is due (key <= now), its slot taken (timerQ NO_TIMER); undefined when
   * none is left. The caller kills it if expired, else calls rearm.
   */
  popDue(now: number): CtEntry | undefined {
    const fifos = this.fifos;
    for (; this.cursor < fifos.length; this.cursor++) {
      const ring = fifos[this.cursor]!.ring;
      while (!ring.empty && ring.headKey <= now) {
        const e = ring.shift();
        if (e === undefined) continue;
        e.timerQ = NO_TIMER;
        return e;
      }
    }
    while (this.heap.topKey <= now) {
      const id = this.heap.topTag;
      const e = this.heap.pop();
      if (e.timerQ !== IN_HEAP || e.timerPos !== id) continue; // stale
      e.timerQ = NO_TIMER;
      return e;
    }
    this.cursor = 0;
    return undefined;
  }

  /** Slots held (armed and cleared), for tests. */
  get slots(): number {
    let n = this.heap.size;
    for (const q of this.fifos) n += q.ring.length;
    return n;
  }

  /** Put a slot at `key` on the FIFO under `fifoKey` (a timeout; a re-arm's is -1 - its delay). */
  private arm(e: CtEntry, key: number, fifoKey: number, now: number): void {
    if (now > this.high) this.high = now;
    let q = this.byDelay.get(fifoKey);
    if (q === undefined) {
      q = new Fifo(fifoKey < 0 ? -1 - fifoKey : fifoKey, this.fifos.length);
      this.byDelay.set(fifoKey, q);
      this.fifos.push(q);
    }
    const ring = q.ring;
    if (!ring.empty && ring.tailKey > key) {
      this.heapPush(key, e);
      return;
    }
    e.timerQ = q.index;
    e.timerPos = ring.push(e, key);
  }

  private heapPush(key: number, e: CtEntry): void {
    const id = this.nextHeapId++;
    e.timerQ = IN_HEAP;
    e.timerPos = id;
    this.heap.push(key, e, id);
  }
}
