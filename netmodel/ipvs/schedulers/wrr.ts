/**
 * wrr (net/netfilter/ipvs/ip_vs_wrr.c). State: the cursor `cl` (starts at the list head), the current
 * weight `cw`, `mw` = max weight - (gcd - 1) and `di` = gcd of the weights > 0 (1 if none). A pick
 * takes the first dest after the cursor that is not overloaded with weight >= cw; each time the walk
 * passes the end of the list cw drops by di, and when cw <= 0 it starts over at mw. Any change to the
 * dests resets the cursor to the head, recomputes di and mw, and sets cw = mw if cw > mw or cw == 0,
 * else rounds cw to a multiple of di plus 1 (when di > 1).
 */
import type { IpvsDest } from '../dest.js';
import type { SchedPacket, SchedResult, SchedService, Scheduler } from './types.js';
import { gcd } from './types.js';

function gcdWeight(list: readonly IpvsDest[]): number {
  let g = 0;
  for (const d of list) {
    if (d.weight > 0) g = g > 0 ? gcd(d.weight, g) : d.weight;
  }
  return g || 1;
}

function maxWeight(list: readonly IpvsDest[]): number {
  let m = 0;
  for (const d of list) if (d.weight > m) m = d.weight;
  return m;
}

export class WeightedRoundRobin implements Scheduler {
  readonly name = 'wrr';
  /** Index of the cursor in the list; -1 = the head. */
  private cl = -1;
  private cw = 0;
  private mw = 0;
  private di = 1;
  private inited = false;

  private init(svc: SchedService): void {
    this.cl = -1;
    this.di = gcdWeight(svc.dests);
    this.mw = maxWeight(svc.dests) - (this.di - 1);
    this.cw = this.mw;
    this.inited = true;
  }

  changed(svc: SchedService): void {
    if (!this.inited) {
      this.init(svc);
      return;
    }
    this.cl = -1;
    this.di = gcdWeight(svc.dests);
    this.mw = maxWeight(svc.dests) - (this.di - 1);
    if (this.cw > this.mw || this.cw === 0) this.cw = this.mw;
    else if (this.di > 1) this.cw = Math.floor(this.cw / this.di) * this.di + 1;
  }

  schedule(svc: SchedService, _p: SchedPacket): SchedResult {
    const i = this.advance(svc);
    if (i < 0) return this.none();
    const d = svc.dests[i]!;
    return {
      dest: d,
      why: {
        scheduler: 'wrr',
        position: i,
        currentWeight: this.cw,
        maxWeight: this.mw,
        gcd: this.di,
        text: `weighted round robin: current weight ${this.cw} (max ${this.mw}, step gcd ${this.di}); ${d.name} (weight ${d.weight}) is the next in kernel list order with weight >= ${this.cw}`,
      },
    };
  }

  pick(svc: SchedService, _p: SchedPacket): IpvsDest | undefined {
    const i = this.advance(svc);
    return i < 0 ? undefined : svc.dests[i];
  }

  /**
   * The pick, with the cursor and the current weight moved onto it: the index of the first dest
   * after the cursor that is not overloaded with weight >= cw (cw dropping by di at each pass of the
   * list's end, back to mw at <= 0), or -1 (the cursor back at the head).
   */
  private advance(svc: SchedService): number {
    if (!this.inited) this.init(svc);
    const list = svc.dests;
    if (this.mw <= 0 || list.length === 0) return -1;
    let i = this.cl;
    // Every dest is tried at every weight level from mw down to 1 at most once: beyond that nothing fits.
    let levels = 0;
    const maxLevels = Math.ceil(this.mw / this.di) + 2;
    for (;;) {
      for (i = i + 1; i < list.length; i++) {
        const d = list[i]!;
        if (!d.overloaded && d.weight >= this.cw) {
          this.cl = i;
          return i;
        }
      }
      i = -1;
      this.cw -= this.di;
      if (this.cw <= 0) this.cw = this.mw;
      if (++levels > maxLevels) {
        this.cl = -1;
        return -1;
      }
    }
  }

  private none(): SchedResult {
    return {
      dest: undefined,
      why: {
        scheduler: 'wrr',
        position: -1,
        currentWeight: this.cw,
        maxWeight: this.mw,
        gcd: this.di,
        text: 'weighted round robin: no destination available (all weights 0 or overloaded)',
      },
    };
  }
}
