/**
 * A virtual service inside the emulated kernel (struct ip_vs_service): its settings, the destination
 * list in kernel order (each added dest is linked at the head, list_add_rcu in __ip_vs_update_dest),
 * its scheduler instance and statistics. Edits follow ipvsadm -E / -a / -e / -d.
 */
import type { IP } from '../addr.js';
import { joinHostPort } from '../addr.js';
import type { Rng } from '../rng.js';
import { IpvsDest, type IpvsStats, newStats } from './dest.js';
import { createScheduler } from './schedulers/index.js';
import { LocalityLeastConnection } from './schedulers/lblc.js';
import type { SchedService, Scheduler } from './schedulers/types.js';
import type {
  IpvsDestinationSpec,
  IpvsPersistence,
  IpvsProtocol,
  IpvsSchedFlag,
  IpvsSchedulerName,
  IpvsServiceSpec,
} from './types.js';

export function serviceKey(protocol: IpvsProtocol, vip: IP, port: number): string {
  return `${protocol}|${vip.text}|${port}`;
}

export class IpvsService implements SchedService {
  readonly protocol: IpvsProtocol;
  readonly vip: IP;
  readonly port: number;
  readonly key: string;
  /** `TCP 10.96.0.10:53`-style name. */
  readonly name: string;
  scheduler: IpvsSchedulerName;
  flags: Set<IpvsSchedFlag>;
  persistence: IpvsPersistence | undefined;
  sched: Scheduler;
  /** Kernel order: the most recently added first. */
  readonly dests: IpvsDest[] = [];
  readonly stats: IpvsStats = newStats();
  /** kernelOrder's names, until the list changes. */
  private order: readonly string[] | undefined = undefined;

  constructor(
    spec: IpvsServiceSpec,
    now: number,
    private readonly rng?: Rng,
  ) {
    this.protocol = spec.protocol;
    this.vip = spec.vip;
    this.port = spec.port;
    this.key = serviceKey(spec.protocol, spec.vip, spec.port);
    this.name = `${spec.protocol} ${joinHostPort(spec.vip, spec.port)}`;
    this.scheduler = spec.scheduler;
    this.flags = new Set(spec.flags);
    this.persistence = spec.persistence;
    this.sched = this.bindScheduler(now);
  }

  /**
   * The real servers' names in kernel list order, for explanations: made on first use after a change
   * to the list, not per packet.
   */
  get kernelOrder(): readonly string[] {
    let o = this.order;
    if (!o) {
      o = Object.freeze(this.dests.map((d) => d.name));
      this.order = o;
    }
    return o;
  }

  private bindScheduler(now: number): Scheduler {
    const s = createScheduler(this.scheduler, this.rng);
    if (s instanceof LocalityLeastConnection) s.start(now);
    return s;
  }

  /** ipvsadm -E: scheduler, flags, persistence. A new scheduler starts from the current list. */
  edit(spec: Pick<IpvsServiceSpec, 'scheduler' | 'flags' | 'persistence'>, now: number): void {
    this.flags = new Set(spec.flags);
    this.persistence = spec.persistence;
    if (spec.scheduler !== this.scheduler) {
      this.scheduler = spec.scheduler;
      this.sched = this.bindScheduler(now);
      // init_service of table-driven schedulers fills from the list as it stands.
      if (this.dests.length) this.sched.changed(this, 'upd', this.dests[0]!, 0);
    }
  }

  find(ip: IP, port: number): IpvsDest | undefined {
    for (const d of this.dests) if (d.port === port && d.ip.text === ip.text) return d;
    return undefined;
  }

  /** ipvsadm -a: link at the head (a trashed dest comes back with its counters). */
  addDest(spec: IpvsDestinationSpec, fromTrash?: IpvsDest): IpvsDest {
    let d: IpvsDest;
    if (fromTrash) {
      d = fromTrash;
      d.available = true;
      this.applySpec(d, spec);
      d.lastWeight = spec.weight;
    } else {
      d = new IpvsDest({
        ip: spec.ip,
        port: spec.port,
        weight: spec.weight,
        forward: spec.forward,
        upperThreshold: spec.upperThreshold,
        lowerThreshold: spec.lowerThreshold,
      });
    }
    this.dests.unshift(d);
    this.order = undefined;
    this.sched.changed(this, 'add', d, 0);
    return d;
  }

  /** ipvsadm -e: weight, forwarding, thresholds. */
  editDest(d: IpvsDest, spec: IpvsDestinationSpec): void {
    this.applySpec(d, spec);
    if (spec.weight > 0) d.lastWeight = spec.weight;
    this.sched.changed(this, 'upd', d, this.dests.indexOf(d));
  }

  private applySpec(d: IpvsDest, spec: IpvsDestinationSpec): void {
    d.weight = spec.weight;
    d.forward = spec.forward;
    d.upperThreshold = spec.upperThreshold ?? 0;
    d.lowerThreshold = spec.lowerThreshold ?? 0;
    // __ip_vs_update_dest clears the overload flag when the new upper threshold is off or above the
    // connections; it never sets it (the next bind does).
    if (d.upperThreshold === 0 || d.upperThreshold > d.totalConns) d.overloaded = false;
  }

  /** ipvsadm -d: unlink; the dest loses IP_VS_DEST_F_AVAILABLE. */
  deleteDest(d: IpvsDest): void {
    const at = this.dests.indexOf(d);
    if (at < 0) return;
    this.dests.splice(at, 1);
    this.order = undefined;
    d.available = false;
    this.sched.changed(this, 'del', d, at);
  }

  /** The spec this service would be programmed from now (destinations in the order they were added). */
  spec(): IpvsServiceSpec {
    const s: { -readonly [K in keyof IpvsServiceSpec]: IpvsServiceSpec[K] } = {
      protocol: this.protocol,
      vip: this.vip,
      port: this.port,
      scheduler: this.scheduler,
      flags: [...this.flags],
      destinations: [...this.dests].reverse().map(destSpec),
    };
    if (this.persistence) s.persistence = this.persistence;
    return s;
  }
}

export function destSpec(d: IpvsDest): IpvsDestinationSpec {
  const s: { -readonly [K in keyof IpvsDestinationSpec]: IpvsDestinationSpec[K] } = {
    ip: d.ip,
    port: d.port,
    weight: d.weight,
    forward: d.forward,
  };
  if (d.upperThreshold) s.upperThreshold = d.upperThreshold;
  if (d.lowerThreshold) s.lowerThreshold = d.lowerThreshold;
  return s;
}
