/**
 * The vocabulary shared by the emulated kernel IPVS (netmodel/ipvs) and the programs that configure
 * it (kube-proxy's ipvs proxier in proxy/ipvs). A virtual server as `ipvsadm -A/-a` describes it:
 * plain data, no behaviour. The kernel side turns these specs into live services with schedulers,
 * counters and a connection table.
 */
import type { IP } from '../addr.js';

/** Every scheduler Linux ships (net/netfilter/ipvs/ip_vs_*.c). */
export type IpvsSchedulerName =
  | 'rr'
  | 'wrr'
  | 'lc'
  | 'wlc'
  | 'sed'
  | 'nq'
  | 'dh'
  | 'sh'
  | 'mh'
  | 'lblc'
  | 'lblcr'
  | 'fo'
  | 'ovf'
  | 'twos';

export type IpvsProtocol = 'TCP' | 'UDP' | 'SCTP';

/** Scheduler flags (ipvsadm -b): sh-fallback, sh-port, mh-fallback, mh-port (IP_VS_SVC_F_SCHED1..3). */
export type IpvsSchedFlag = 'sh-fallback' | 'sh-port' | 'mh-fallback' | 'mh-port';

/** Packet forwarding method of a real server (ipvsadm -m / -g / -i). kube-proxy uses Masq. */
export type IpvsForward = 'Masq' | 'Route' | 'Tunnel';

export interface IpvsDestinationSpec {
  readonly ip: IP;
  readonly port: number;
  /** 0 keeps the server (existing connections go on) but the schedulers skip it. */
  readonly weight: number;
  readonly forward: IpvsForward;
  /** Upper/lower connection thresholds (ipvsadm -x / -y); 0 = none. */
  readonly upperThreshold?: number;
  readonly lowerThreshold?: number;
}

export interface IpvsPersistence {
  /** Seconds (ipvsadm -p). */
  readonly timeoutSeconds: number;
  /** Persistence netmask (ipvsadm -M), as a prefix length; 32 (IPv4) / 128 (IPv6) by default. */
  readonly netmaskBits: number;
}

/** One virtual server (address, protocol, port) with its real servers, as the proxier programs it. */
export interface IpvsServiceSpec {
  readonly protocol: IpvsProtocol;
  readonly vip: IP;
  readonly port: number;
  readonly scheduler: IpvsSchedulerName;
  readonly flags: readonly IpvsSchedFlag[];
  readonly persistence?: IpvsPersistence;
  /**
   * Real servers in the order they were added with `ipvsadm -a` (the kernel links each new one at the
   * head of its list, so the kernel's own list is the reverse of this).
   */
  readonly destinations: readonly IpvsDestinationSpec[];
}
