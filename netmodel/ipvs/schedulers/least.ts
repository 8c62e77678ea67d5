/**
 * The schedulers that decide from connection counts and weights alone:
 *
 * - lc  (ip_vs_lc.c):  smallest overhead = activeconns*256 + inactconns among dests with weight > 0
 *   and not overloaded; a tie keeps the earlier dest (strict `<`).
 * - wlc (ip_vs_wlc.c): seed with the first dest not overloaded with weight > 0; a later dest d that is
 *   not overloaded replaces the best b when overhead(b)*weight(d) > overhead(d)*weight(b).
 * - sed (ip_vs_sed.c): as wlc with activeconns + 1 in place of the overhead.
 * - nq  (ip_vs_nq.c):  the first dest (weight > 0, not overloaded) with no active connection wins at
 *   once; otherwise as sed.
 * - fo  (ip_vs_fo.c):  the highest weight among dests not overloaded (first one on a tie).
 * - ovf (ip_vs_ovf.c): the highest weight among dests not overloaded whose activeconns do not exceed
 *   their weight, weight > 0.
 *
 * The list is walked in kernel order (most recently added first), which decides ties.
 */
import type { IpvsDest } from '../dest.js';
import type { ComparedDest, SchedResult, SchedService, Scheduler } from './types.js';

type Kind = 'lc' | 'wlc' | 'sed' | 'nq' | 'fo' | 'ovf';

function compared(d: IpvsDest, load: number, skipped?: string): ComparedDest {
  const c: { -readonly [K in keyof ComparedDest]: ComparedDest[K] } = {
    dest: d.name,
    weight: d.weight,
    activeConns: d.activeConns,
    inactConns: d.inactConns,
    load,
  };
  if (skipped) c.skipped = skipped;
  return c;
}

const LOAD_NAME: Record<Kind, string> = {
  lc: 'overhead (active*256 + inactive)',
  wlc: 'overhead (active*256 + inactive) / weight',
  sed: '(active + 1) / weight',
  nq: '(active + 1) / weight, an idle server first',
  fo: 'highest weight',
  ovf: 'highest weight with active <= weight',
};

export class LeastConnection implements Scheduler {
  constructor(readonly name: Kind) {}

  changed(): void {}

  schedule(svc: SchedService): SchedResult {
    const seen: ComparedDest[] = [];
    const best = this.least(svc.dests, seen);
    const k = this.name;
    const table = seen
      .map(
        (c) =>
          `${c.dest} w=${c.weight} active=${c.activeConns} inactive=${c.inactConns}${c.skipped ? ` (${c.skipped})` : ''}`,
      )
      .join('; ');
    return {
      dest: best,
      why: {
        scheduler: k,
        compared: seen,
        text: best
          ? `${k}: least ${LOAD_NAME[k]} is ${best.name} among ${table}`
          : `${k}: no destination available (${table || 'no real servers'})`,
      },
    };
  }
  pick(svc: SchedService): IpvsDest | undefined {
    return this.least(svc.dests, undefined);
  }

  /** The pick: the list walked in kernel order; each dest compared goes into `seen` when given. */
  private least(list: readonly IpvsDest[], seen: ComparedDest[] | undefined): IpvsDest | undefined {
    let best: IpvsDest | undefined;
    let bestLoad = 0;
    const k = this.name;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      const load =
        k === 'lc' || k === 'wlc' ? d.overhead : k === 'sed' || k === 'nq' ? d.activeConns + 1 : d.weight;
      if (d.overloaded) {
        seen?.push(compared(d, load, 'overloaded'));
        continue;
      }
      if (k === 'lc' || k === 'nq' || k === 'fo' || k === 'ovf' || !best) {
        // lc, nq, fo, ovf skip weight 0 everywhere; wlc and sed only while seeding.
        if (d.weight === 0) {
          seen?.push(compared(d, load, 'weight 0'));
          continue;
        }
      }
      if (k === 'ovf' && d.activeConns > d.weight) {
        seen?.push(compared(d, load, 'active connections above its weight'));
        continue;
      }
      seen?.push(compared(d, load));
      if (k === 'nq' && d.activeConns === 0) return d;
      if (!best) {
        best = d;
        bestLoad = load;
        continue;
      }
      let better: boolean;
      if (k === 'lc') better = load < bestLoad;
      else if (k === 'fo' || k === 'ovf') better = d.weight > best.weight;
      else better = bestLoad * d.weight > load * best.weight;
      if (better) {
        best = d;
        bestLoad = load;
      }
    }
    return best;
  }
}
