/**
 * Every real server a new connection to a virtual service could get, with its probability and the
 * rule that makes it the pick, for `kpath trace --all`. What decides depends on the scheduler:
 *
 * - rr, wrr: the position of the scheduler's cursor, which the history of earlier connections set.
 *   Over a cycle each usable server gets its share: 1/n for rr, weight / (sum of usable weights)
 *   for wrr (`decidedBy: 'cycle'`).
 * - lc, wlc, sed, nq: the connection counts at the moment of the SYN, which earlier connections
 *   set. Each usable server is chosen when its load is the lowest; with connections of equal length
 *   the counts even out to each server's share: 1/n for lc (weights are not read), weight / (sum of
 *   usable weights) for wlc, sed and nq (`decidedBy: 'counts'`).
 * - sh, dh, mh: the packet alone (one choice, probability 1: `decidedBy: 'packet'`).
 * - fo, ovf: the weights (and for ovf the counts) decide one pick now; one choice with the rule.
 * - lblc, lblcr, twos: the locality cache or the scheduler's own random draws; a look would change
 *   them, so no answer (undefined): use the walk's own pick.
 *
 * "Usable" is the kernel's test for a new connection: weight > 0 and not overloaded.
 */
import type { IpvsDest } from './dest.js';
import type { SchedPacket } from './schedulers/types.js';
import type { IpvsService } from './service.js';

export interface IpvsChoice {
  readonly destination: IpvsDest;
  readonly probability: number;
  /** When the scheduler picks this real server, in a sentence. */
  readonly rule: string;
}

export interface IpvsChoices {
  /** What decides among them. */
  readonly decidedBy: 'cycle' | 'packet' | 'counts' | 'weights';
  readonly choices: readonly IpvsChoice[];
}

const LOAD: Record<string, string> = {
  lc: 'overhead (activeconns*256 + inactconns)',
  wlc: 'overhead (activeconns*256 + inactconns) / weight',
  sed: '(activeconns + 1) / weight',
  nq: '(activeconns + 1) / weight',
};

function share(p: number): string {
  const pct = p * 100;
  return `${Number.isInteger(pct) ? pct : pct.toFixed(1)}%`;
}

export function ipvsChoices(svc: IpvsService, p: SchedPacket, now: number): IpvsChoices | undefined {
  const usable = svc.dests.filter((d) => d.weight > 0 && !d.overloaded);
  const n = usable.length;
  const total = usable.reduce((s, d) => s + d.weight, 0);
  const pos = (d: IpvsDest) =>
    `position ${svc.dests.indexOf(d) + 1} of ${svc.dests.length} in kernel list order`;
  switch (svc.scheduler) {
    case 'rr':
      return {
        decidedBy: 'cycle',
        choices: usable.map((d) => ({
          destination: d,
          probability: 1 / n,
          rule: `rr: chosen when the previous new connection went to the usable real server before it in kernel list order, wrapping around (it is at ${pos(d)}); 1 of every ${n} new connections`,
        })),
      };
    case 'wrr':
      return {
        decidedBy: 'cycle',
        choices: usable.map((d) => ({
          destination: d,
          probability: d.weight / total,
          rule: `wrr: weight ${d.weight} of ${total}: chosen ${d.weight} time${d.weight === 1 ? '' : 's'} in each cycle of ${total} new connections, when the cycle's current weight is at most ${d.weight} and the cursor reaches it (${pos(d)})`,
        })),
      };
    case 'lc':
    case 'wlc':
    case 'sed':
    case 'nq': {
      const lc = svc.scheduler === 'lc';
      const idle =
        svc.scheduler === 'nq'
          ? ' (nq: a server with no active connection is taken at once, the first in list order)'
          : '';
      return {
        decidedBy: 'counts',
        choices: usable.map((d) => {
          const probability = lc ? 1 / n : d.weight / total;
          return {
            destination: d,
            probability,
            rule: `${svc.scheduler}: chosen when its ${LOAD[svc.scheduler]} is the lowest${idle}, a tie going to the earlier in kernel list order (${pos(d)}); with connections of equal length, ${share(probability)} of new connections`,
          };
        }),
      };
    }
    case 'sh':
    case 'dh':
    case 'mh':
    case 'fo':
    case 'ovf': {
      // These schedulers keep no state a pick changes: asking is free of side effects.
      const r = svc.sched.schedule(svc, p, now);
      const d = r.dest;
      const byPacket = svc.scheduler === 'sh' || svc.scheduler === 'dh' || svc.scheduler === 'mh';
      const rule = byPacket
        ? `${svc.scheduler}: the packet alone decides, so this is the only choice: ${r.why.text}`
        : `${svc.scheduler}: the weights${svc.scheduler === 'ovf' ? ' and active connections' : ''} decide one pick now: ${r.why.text}`;
      return {
        decidedBy: byPacket ? 'packet' : svc.scheduler === 'fo' ? 'weights' : 'counts',
        choices: d ? [{ destination: d, probability: 1, rule }] : [],
      };
    }
    default:
      return undefined;
  }
}
