/**
 * A real server inside the emulated kernel (struct ip_vs_dest): its settings, the connection counters
 * the schedulers read, the flags they test, and the traffic statistics `ipvsadm --stats` prints.
 */
import type { IP } from '../addr.js';
import { joinHostPort } from '../addr.js';
import type { IpvsForward } from './types.js';

/** struct ip_vs_kstats as ipvsadm reads it (cumulative). */
export interface IpvsStats {
  conns: number;
  inpkts: number;
  outpkts: number;
  inbytes: number;
  outbytes: number;
}

export function newStats(): IpvsStats {
  return { conns: 0, inpkts: 0, outpkts: 0, inbytes: 0, outbytes: 0 };
}

export class IpvsDest {
  readonly ip: IP;
  readonly port: number;
  /** `ip:port` ([v6]:port), the dest's name in explanations and listings. */
  readonly name: string;
  weight: number;
  /** The most recent non-zero weight (the weight at add time if added with 0); only mh reads it. */
  lastWeight: number;
  forward: IpvsForward;
  upperThreshold: number;
  lowerThreshold: number;
  activeConns = 0;
  inactConns = 0;
  persistConns = 0;
  /** IP_VS_DEST_F_AVAILABLE: cleared when the dest is deleted (it may live on in the trash). */
  available = true;
  /** IP_VS_DEST_F_OVERLOAD. */
  overloaded = false;
  readonly stats: IpvsStats = newStats();

  constructor(init: {
    ip: IP;
    port: number;
    weight: number;
    forward: IpvsForward;
    upperThreshold?: number | undefined;
    lowerThreshold?: number | undefined;
  }) {
    this.ip = init.ip;
    this.port = init.port;
    this.name = joinHostPort(init.ip, init.port);
    this.weight = init.weight;
    this.lastWeight = init.weight;
    this.forward = init.forward;
    this.upperThreshold = init.upperThreshold ?? 0;
    this.lowerThreshold = init.lowerThreshold ?? 0;
  }

  /** ip_vs_dest_conn_overhead: activeconns * 256 + inactconns (include/net/ip_vs.h; `<< 8`). */
  get overhead(): number {
    return this.activeConns * 256 + this.inactConns;
  }

  /** ip_vs_dest_totalconns: activeconns + inactconns (the thresholds compare this). */
  get totalConns(): number {
    return this.activeConns + this.inactConns;
  }

  /**
   * The overload flag after a connection was bound (ip_vs_bind_dest): set when the total reaches the
   * upper threshold.
   */
  afterBind(): void {
    if (this.upperThreshold !== 0 && this.totalConns >= this.upperThreshold) this.overloaded = true;
  }

  /**
   * The overload flag after a connection was unbound (ip_vs_unbind_dest): cleared below the lower
   * threshold, or below 3/4 of the upper one when no lower threshold is set, or at once when neither is.
   */
  afterUnbind(): void {
    if (this.lowerThreshold !== 0) {
      if (this.totalConns < this.lowerThreshold) this.overloaded = false;
    } else if (this.upperThreshold !== 0) {
      if (this.totalConns * 4 < this.upperThreshold * 3) this.overloaded = false;
    } else {
      this.overloaded = false;
    }
  }
}

export function destKey(ip: IP, port: number): string {
  return `${ip.text}|${port}`;
}
