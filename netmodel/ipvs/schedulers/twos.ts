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

  /** The last draw (draw()): the usable weights' sum + 1, the two rolls, the two choices. */
  private total = 0;
  private roll1 = 0;
  private roll2 = 0;
  private first: IpvsDest | undefined;
  private second: IpvsDest | undefined;

  schedule(svc: SchedService): SchedResult {
    const d = this.draw(svc.dests);
    if (!d)
      return {
        dest: undefined,
        why: { scheduler: 'twos', compared: [], text: 'twos: no destination available' },
      };
    const first = this.first!;
    const c2 = this.second;
    const cmp = [first, c2]
      .filter((x): x is IpvsDest => x !== undefined)
      .map((x) => ({
        dest: x.name,
        weight: x.weight,
        activeConns: x.activeConns,
        inactConns: x.inactConns,
        load: x.overhead,
      }));
    return {
      dest: d,
      why: {
        scheduler: 'twos',
        compared: cmp,
        text: `twos: random weights ${this.roll1} and ${this.roll2} of ${this.total} drew ${first.name} and ${c2?.name ?? '-'}; the less loaded by overhead/weight is ${d.name}`,
      },
    };
  }

  /** schedule's dest, without the explanation: the same two draws from the rng. */
  pick(svc: SchedService): IpvsDest | undefined {
    return this.draw(svc.dests);
  }

  /**
   * The two random choices (two numbers from the rng) and the winner; undefined, drawing nothing,
   * when no dest is usable. Leaves the draw in total, roll1, roll2, first and second.
   */
  private draw(list: readonly IpvsDest[]): IpvsDest | undefined {
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
    this.total = total;
    let r1 = this.rng.uint32() % total;
    let r2 = this.rng.uint32() % total;
    this.roll1 = r1;
    this.roll2 = r2;
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
    this.first = c1;
    this.second = c2;
    return c2 && w2 * o1 > w1 * o2 ? c2 : c1;
  }
}
