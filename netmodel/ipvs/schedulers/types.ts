/**
 * The scheduler interface (struct ip_vs_scheduler) and the explanation each one gives for a pick,
 * so a trace can say why that real server.
 */
import type { IP } from '../../addr.js';
import type { IpvsDest } from '../dest.js';

/** What a scheduler may read of the packet (struct ip_vs_iphdr plus the L4 ports). */
export interface SchedPacket {
  readonly src: IP;
  readonly dst: IP;
  readonly sport: number;
  readonly dport: number;
}

/** What the scheduler sees of its service: the kernel-ordered list and the flags. */
export interface SchedService {
  /** svc->destinations in kernel order: the most recently added first. */
  readonly dests: readonly IpvsDest[];
  readonly flags: ReadonlySet<string>;
}

/** One candidate a least-connection style scheduler compared. */
export interface ComparedDest {
  readonly dest: string;
  readonly weight: number;
  readonly activeConns: number;
  readonly inactConns: number;
  /** The value the scheduler compares: overhead (lc, wlc) or activeconns+1 (sed, nq). */
  readonly load: number;
  /** Why it could not be chosen (weight 0, overloaded), if so. */
  readonly skipped?: string;
}

export type SchedExplanation =
  | {
      readonly scheduler: 'rr';
      /** Index in the kernel list of the pick, and how many entries were stepped over. */
      readonly position: number;
      readonly skipped: number;
      readonly text: string;
    }
  | {
      readonly scheduler: 'wrr';
      readonly position: number;
      readonly currentWeight: number;
      readonly maxWeight: number;
      readonly gcd: number;
      readonly text: string;
    }
  | {
      readonly scheduler: 'lc' | 'wlc' | 'sed' | 'nq' | 'fo' | 'ovf' | 'twos';
      readonly compared: readonly ComparedDest[];
      readonly text: string;
    }
  | {
      readonly scheduler: 'sh' | 'dh';
      /** The hashed address (source for sh, destination for dh) and port (sh-port). */
      readonly key: string;
      readonly port: number;
      readonly bucket: number;
      /** Buckets probed by sh-fallback after the first, in order. */
      readonly probes: readonly number[];
      readonly text: string;
    }
  | {
      readonly scheduler: 'mh';
      readonly key: string;
      readonly port: number;
      readonly slot: number;
      readonly tableSize: number;
      readonly probes: readonly number[];
      readonly text: string;
    }
  | {
      readonly scheduler: 'lblc' | 'lblcr';
      readonly key: string;
      readonly cacheHit: boolean;
      readonly compared?: readonly ComparedDest[];
      readonly text: string;
    };

export interface SchedResult {
  readonly dest: IpvsDest | undefined;
  readonly why: SchedExplanation;
}

/** A live scheduler bound to one service (its sched_data). */
export interface Scheduler {
  readonly name: string;
  /** add_dest / del_dest / upd_dest: the list already reflects the change. `at` is the removed dest's former index. */
  changed(svc: SchedService, kind: 'add' | 'del' | 'upd', dest: IpvsDest, at: number): void;
  schedule(svc: SchedService, p: SchedPacket, now: number): SchedResult;
  /**
   * schedule(svc, p, now).dest with the same effect on the scheduler's state, and no explanation
   * built: for callers that read only the pick (the walker's untraced walks that record no stages).
   * Optional: pickDest falls back to schedule.
   */
  pick?(svc: SchedService, p: SchedPacket, now: number): IpvsDest | undefined;
}

/** The scheduler's pick without its explanation (Scheduler.pick, else schedule's dest). */
export function pickDest(s: Scheduler, svc: SchedService, p: SchedPacket, now: number): IpvsDest | undefined {
  return s.pick ? s.pick(svc, p, now) : s.schedule(svc, p, now).dest;
}

/** Usable for a new connection: weight > 0 and not overloaded (most schedulers' test). */
export function usable(d: IpvsDest): boolean {
  return d.weight > 0 && !d.overloaded;
}

export function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}
