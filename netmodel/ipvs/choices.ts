/**
 * Every real server a new connection to a virtual service could get, with its probability, for
 * `kpath trace --all`. What decides depends on the scheduler:
 *
 * - rr, wrr: the position of the scheduler's cursor, which the history of earlier connections set.
 *   Over a cycle each usable server gets its share: 1/n for rr, weight / (sum of usable weights)
 *   for wrr. Those shares are returned (`decidedBy: 'cycle'`).
 * - sh, dh, mh: the packet alone (probability 1 for the server the hash gives).
 * - lc, wlc, sed, nq, fo, ovf: the current connection counts (probability 1 for the pick now).
 * - lblc, lblcr: the locality cache and the counts; a look would change the cache, so no answer
 *   (undefined): use the walk's own pick.
 */
import type { IpvsDest } from './dest.js';
import type { SchedPacket } from './schedulers/types.js';
import type { IpvsService } from './service.js';

export interface IpvsChoice {
  readonly destination: IpvsDest;
  readonly probability: number;
}

export interface IpvsChoices {
  /** What decides among them. */
  readonly decidedBy: 'cycle' | 'packet' | 'counts';
  readonly choices: readonly IpvsChoice[];
}

export function ipvsChoices(svc: IpvsService, p: SchedPacket, now: number): IpvsChoices | undefined {
  const usable = svc.dests.filter((d) => d.weight > 0 && !d.overloaded);
  switch (svc.scheduler) {
    case 'rr':
      return {
        decidedBy: 'cycle',
        choices: usable.map((d) => ({ destination: d, probability: 1 / usable.length })),
      };
    case 'wrr': {
      const total = usable.reduce((s, d) => s + d.weight, 0);
      return {
        decidedBy: 'cycle',
        choices: usable.map((d) => ({ destination: d, probability: d.weight / total })),
      };
    }
    case 'sh':
    case 'dh':
    case 'mh':
    case 'lc':
    case 'wlc':
    case 'sed':
    case 'nq':
    case 'fo':
    case 'ovf': {
      // These schedulers keep no state a pick changes: asking is free of side effects.
      const d = svc.sched.schedule(svc, p, now).dest;
      const decidedBy =
        svc.scheduler === 'sh' || svc.scheduler === 'dh' || svc.scheduler === 'mh' ? 'packet' : 'counts';
      return { decidedBy, choices: d ? [{ destination: d, probability: 1 }] : [] };
    }
    default:
      return undefined;
  }
}
