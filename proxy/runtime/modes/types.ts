/**
 * The decision seam. Every new TCP connection and every new UDP flow the runtime accepts is put to a
 * ProxyMode, which answers what the entry node's datapath would do with its first packet: forward
 * it to an endpoint (and from which source address the endpoint sees it), reject it, or drop it.
 * The runtime then does exactly that with real sockets. Modes see model addresses only.
 */
import type { IP } from '../../../netmodel/addr.js';
import type { ClusterSnapshot, Protocol } from '../../../netmodel/cluster/index.js';
import type { IpvsTable } from '../../../netmodel/ipvs/index.js';

export type ModeName = 'userspace' | 'iptables' | 'ipvs';

/** How the flow reached the proxy (which kind of listener took it). */
export type EntryKind = 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';

export interface HostPort {
  readonly ip: IP;
  readonly port: number;
}

export interface FlowRequest {
  readonly protocol: Extract<Protocol, 'TCP' | 'UDP'>;
  /** The client as the model sees it. A process on the node is given the entry node's address. */
  readonly client: HostPort;
  /** True when the client was a process on the entry node (it connected from 127.0.0.1 or an unmapped loopback). */
  readonly clientIsNodeProcess: boolean;
  /** What the client dialled, in model addresses: cluster IP, node IP:nodePort, external or LB IP. */
  readonly destination: HostPort;
  /** The node whose datapath handles the flow. */
  readonly entryNode: string;
  readonly entry: EntryKind;
  /** The service port the listener serves: `namespace/name:portName`. */
  readonly servicePort: string;
}

export type Decision =
  | {
      readonly kind: 'forward';
      readonly endpoint: HostPort;
      /** The address the endpoint sees the flow come from (the client's, or a node's when masqueraded). */
      readonly source: IP;
    }
  /** Answer at once: a TCP client is reset; a UDP datagram is dropped (no ICMP on loopback sockets). */
  | { readonly kind: 'reject'; readonly reason: string }
  /** Never answer: the client waits until it gives up. */
  | { readonly kind: 'drop'; readonly reason: string };

/** A policy check on a forward decision (proxy/runtime/policy-gate.ts): a denial, or undefined. */
export type Admission = (d: Extract<Decision, { kind: 'forward' }>) => AdmissionDenial | undefined;

export interface AdmissionDenial {
  /** What the runtime does instead (drop, or reject with --policy-reject). */
  readonly decision: Decision;
  /** Egress: dropped at the client pod, on the entry node; Ingress: at the endpoint pod, on its node. */
  readonly direction: 'Ingress' | 'Egress';
}

export interface AffinityEntry {
  readonly servicePort: string;
  readonly clientIP: string;
  readonly endpoint: string;
  /** Milliseconds until the record expires without new connections. */
  readonly remainingMs: number;
  readonly timeoutSeconds: number;
}

export interface ModeEndpoints {
  readonly servicePort: string;
  readonly protocol: Protocol;
  /** The endpoints in the order the mode will use them (for userspace: the shuffled round-robin list). */
  readonly endpoints: readonly string[];
  /** Index of the next endpoint for a client without affinity, when the mode round-robins. */
  readonly next?: number;
  readonly sessionAffinity: 'None' | 'ClientIP';
}

export interface ProxyMode {
  readonly name: ModeName;
  /**
   * Per-attempt dial timeouts. Each failed attempt asks `decide` again with the attempt number; when
   * all are used the client is reset. The kernel modes have one attempt (a refused DNAT is a reset).
   */
  readonly dialTimeoutsMs: readonly number[];
  /** Take a new snapshot (endpoints, affinity settings). Called before any flow sees it. */
  sync(snap: ClusterSnapshot): void;
  /**
   * attempt is 0 for the first try; later attempts bypass session affinity, as the userspace proxier
   * did. `admit`, when given, is asked about a forward decision where a CNI's policy sees the first
   * packet, before the datapath goes on: a kernel mode then leaves its emulated state as that drop
   * would (no handshake walked; no conntrack entry where the drop comes before confirmation).
   */
  decide(flow: FlowRequest, attempt: number, admit?: Admission): Decision;
  /**
   * Optional: a forwarded connection ended (either side closed or reset). Kernel modes walk the
   * closing handshake so their emulated conntrack entry moves on (TIME_WAIT) and ages out.
   */
  closed?(flow: FlowRequest, decision: Extract<Decision, { kind: 'forward' }>): void;
  /**
   * Optional: periodic upkeep the kernel does on its own (its conntrack garbage collector removes
   * expired entries). The runtime calls it every few seconds.
   */
  housekeeping?(now: number): void;
  affinity(): AffinityEntry[];
  endpoints(): ModeEndpoints[];
  /**
   * Optional: the UDP flows whose conntrack entries the last `sync` deleted (kube-proxy's stale UDP
   * cleanup: their endpoint stopped serving), as `udpFlowKey`s. The runtime ends the relays standing
   * for them, so the client's next datagram is decided anew, as its next packet would be on a node.
   */
  clearedUdp?(): ReadonlySet<string>;
  /** Optional: each emulated node's IPVS (ipvs mode), for `kpath ipvs --live`. */
  ipvsTables?(): ReadonlyMap<string, IpvsTable>;
  close(): void;
}

/** A UDP flow's identity across the mode and the relay: entry node and original tuple, model addresses. */
export function udpFlowKey(node: string, src: string, sport: number, dst: string, dport: number): string {
  return `${node}|${src}|${sport}|${dst}|${dport}`;
}
