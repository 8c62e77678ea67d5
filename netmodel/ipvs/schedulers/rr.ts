/**
 * rr (net/netfilter/ipvs/ip_vs_rr.c). sched_data is a cursor into the destination list, initially
 * the list head. Each pick walks forward from the cursor (wrapping through the head at most once) to
 * the first dest with weight > 0 that is not overloaded, and leaves the cursor on it. Deleting the
 * dest under the cursor moves the cursor to the entry before it (p->next->prev).
 */
import type { IpvsDest } from '../dest.js';
import type { SchedPacket, SchedResult, SchedService, Scheduler } from './types.js';
import { usable } from './types.js';

export class RoundRobin implements Scheduler {
  readonly name = 'rr';
  /** The dest the cursor is on; undefined = the list head. */
  private cursor: IpvsDest | undefined;

  changed(svc: SchedService, kind: 'add' | 'del' | 'upd', dest: IpvsDest, at: number): void {
    if (kind === 'del' && this.cursor === dest) this.cursor = at > 0 ? svc.dests[at - 1] : undefined;
  }

  schedule(svc: SchedService, _p: SchedPacket): SchedResult {
    const list = svc.dests;
    const last = this.cursor;
    const i = this.advance(list);
    if (i < 0) return this.none(list.length);
    const d = list[i]!;
    const skipped = this.skipped;
    return {
      dest: d,
      why: {
        scheduler: 'rr',
        position: i,
        skipped,
        text: `round robin: next after ${last ? last.name : 'the list head'} in kernel list order is ${d.name} (position ${i + 1} of ${list.length}${skipped ? `, ${skipped} skipped: weight 0 or overloaded` : ''})`,
      },
    };
  }

  pick(svc: SchedService, _p: SchedPacket): IpvsDest | undefined {
    const i = this.advance(svc.dests);
    return i < 0 ? undefined : svc.dests[i];
  }

  /** Entries the last advance stepped over (weight 0 or overloaded) before its pick. */
  private skipped = 0;

  /**
   * The pick, and the cursor moved onto it: list_for_each_entry_continue from the cursor to the end,
   * then (second pass) from the head, stopping when back at the cursor. Returns its index, or -1.
   */
  private advance(list: readonly IpvsDest[]): number {
    const last = this.cursor;
    const start = last ? list.indexOf(last) : -1;
    let skipped = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = pass === 0 ? start + 1 : 0; i < list.length; i++) {
        const d = list[i]!;
        if (usable(d)) {
          this.cursor = d;
          this.skipped = skipped;
          return i;
        }
        skipped++;
        if (d === last) return -1;
      }
      if (!last) break; // at the head there is no second pass
    }
    return -1;
  }

  private none(n: number): SchedResult {
    return {
      dest: undefined,
      why: {
        scheduler: 'rr',
        position: -1,
        skipped: n,
        text: 'round robin: no destination available (every real server has weight 0 or is overloaded)',
      },
    };
  }
}
