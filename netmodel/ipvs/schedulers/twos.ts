/**
 * twos, power of two choices (net/netfilter/ipvs/ip_vs_twos.c). Two random weights r1, r2 in
 * [0, total] (prandom_u32() % (sum of usable weights + 1)); walking the usable dests (weight > 0, not
 * overloaded) in list order, each subtracts its weight from both, and the first dest that brings r1
 * (r2) to <= 0 is choice 1 (2). Choice 2 wins when weight2 * overhead1 > weight1 * overhead2.
 * The randomness comes from the table's seeded Rng.
 */
import type { Rng } from '../../rng.js';
import type { IpvsDest } from '../dest.js';
import type { SchedResult, SchedService, Scheduler } from './types.js';

export class TwoChoices implements Scheduler {
  readonly name = 'twos';
  constructor(private readonly rng: Rng) {}

  changed(): void {}

  schedule(svc: SchedService): SchedResult {
    let total = 0;
    let c1: IpvsDest | undefined;
    for (const d of svc.dests) {
      if (!d.overloaded && d.weight > 0) {
        total += d.weight;
        c1 = d;
      }
    }
    if (!c1)
      return {
        dest: undefined,
        why: { scheduler: 'twos', compared: [], text: 'twos: no destination available' },
      };
    total += 1;
    let r1 = this.rng.uint32() % total;
    let r2 = this.rng.uint32() % total;
    const roll = [r1, r2];
    let c2: IpvsDest | undefined;
    let w1 = -1;
    let w2 = -1;
    let o1 = 0;
    let o2 = 0;
    for (const d of svc.dests) {
      if (d.overloaded || d.weight <= 0) continue;
      r1 -= d.weight;
      r2 -= d.weight;
      if (r1 <= 0 && w1 === -1) {
        c1 = d;
        w1 = d.weight;
        o1 = d.overhead;
      }
      if (r2 <= 0 && w2 === -1) {
        c2 = d;
        w2 = d.weight;
        o2 = d.overhead;
      }
      if (w1 !== -1 && w2 !== -1) break;
    }
    const first = c1;
    if (c2 && w2 * o1 > w1 * o2) c1 = c2;
    const cmp = [first, c2]
      .filter((d): d is IpvsDest => d !== undefined)
      .map((d) => ({
        dest: d.name,
        weight: d.weight,
        activeConns: d.activeConns,
        inactConns: d.inactConns,
        load: d.overhead,
      }));
    return {
      dest: c1,
      why: {
        scheduler: 'twos',
        compared: cmp,
        text: `twos: random weights ${roll[0]} and ${roll[1]} of ${total} drew ${first.name} and ${c2?.name ?? '-'}; the less loaded by overhead/weight is ${c1.name}`,
      },
    };
  }

  /** schedule's dest, without the explanation: the same two draws from the rng. */
  pick(svc: SchedService): IpvsDest | undefined {
    const list = svc.dests;
    let total = 0;
    let c1: IpvsDest | undefined;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      if (!d.overloaded && d.weight > 0) {
        total += d.weight;
        c1 = d;
      }
    }
    if (!c1) return undefined;
    total += 1;
    let r1 = this.rng.uint32() % total;
    let r2 = this.rng.uint32() % total;
    let c2: IpvsDest | undefined;
    let w1 = -1;
    let w2 = -1;
    let o1 = 0;
    let o2 = 0;
    for (let i = 0; i < list.length; i++) {
      const d = list[i]!;
      if (d.overloaded || d.weight <= 0) continue;
      r1 -= d.weight;
      r2 -= d.weight;
      if (r1 <= 0 && w1 === -1) {
        c1 = d;
        w1 = d.weight;
        o1 = d.overhead;
      }
      if (r2 <= 0 && w2 === -1) {
        c2 = d;
        w2 = d.weight;
        o2 = d.overhead;
      }
      if (w1 !== -1 && w2 !== -1) break;
    }
    return c2 && w2 * o1 > w1 * o2 ? c2 : c1;
  }
}
