/**
 * kube-proxy's ipvs proxier (pkg/proxy/ipvs/proxier.go syncProxyRules, ~v1.31) as a pure function:
 * from a snapshot and a node to the virtual servers it programs, the addresses it binds to kube-ipvs0
 * and the ipset members it keeps. The iptables payload is written from this (rules.ts).
 *
 * What kube-proxy does, per service port (ports in name order; kube-proxy walks a Go map):
 * - every local endpoint (any readiness) goes into KUBE-LOOP-BACK as `ip,proto:port,ip`;
 * - the ClusterIP: KUBE-CLUSTER-IP member, a virtual server bound to kube-ipvs0, real servers from
 *   CategorizeEndpoints, only local ones when internalTrafficPolicy is Local;
 * - each external IP: KUBE-EXTERNAL-IP (or -LOCAL with externalTrafficPolicy Local), a virtual server,
 *   bound to kube-ipvs0 unless the address is already on another interface;
 * - each load-balancer ingress IP: KUBE-LOAD-BALANCER (+ -LOCAL for eTP Local, + -FW and the
 *   SOURCE-CIDR members for loadBalancerSourceRanges, + SOURCE-IP `lb,proto:port,lb` when a range holds
 *   the node IP, otherwise a KUBE-IPVS-OUT-FILTER drop), a virtual server, bound like external IPs;
 * - a node port: KUBE-NODE-PORT-TCP/UDP (bitmap:port) or -SCTP-HASH (`nodeIP,sctp:port` per node IP),
 *   the -LOCAL twin for eTP Local, and a virtual server on every node IP (never bound);
 * - a health-check node port: KUBE-HEALTH-CHECK-NODE-PORT;
 * - KUBE-IPVS-IPS holds every address bound to kube-ipvs0.
 *
 * Node IPs for node ports: every local address of the family on interfaces other than kube-ipvs0,
 * loopback excluded (netlink_linux.go isValidForSet), so unlike iptables mode there is no virtual
 * server on 127.0.0.1; with nodePortAddresses, the local addresses inside those CIDRs, loopback excluded.
 *
 * Real servers: weight 1, masquerading. With a Local policy and no local endpoint, IPVS mode falls back
 * to the cluster endpoints (PR 97081) where iptables mode drops. Graceful termination
 * (graceful_termination.go) depends on what the node held before: given the previous sync's virtual
 * servers, a real server no longer wanted stays at weight 0 on a TCP virtual server while it has
 * connections (kube-proxy's worker deletes it once ActiveConn + InActConn is 0; UDP and SCTP servers
 * are deleted at once, expire_nodest_conn ending their flows). A first sync has no weight-0 servers.
 *
 * Order: kube-proxy adds real servers in Go set order (random). kpath adds them in the order `ipvsadm
 * -Ln` lists them (ascending address, then port); the kernel links each new one at the head of its
 * list, so the kernel's own list is the reverse.
 */
import {
  compareIP,
  type Family,
  type IP,
  isLoopback,
  joinHostPort,
  prefixContains,
  prefixOf,
} from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/snapshot.js';
import type {
  IpvsDestinationSpec,
  IpvsProtocol,
  IpvsSchedFlag,
  IpvsSchedulerName,
  IpvsServiceSpec,
} from '../../netmodel/ipvs/types.js';
import type { IpSetElement } from '../../netmodel/netfilter/index.js';
import { IPPROTO } from '../../netmodel/netfilter/index.js';
import { categorizeEndpoints } from '../../netmodel/service/categorize.js';
import { servicePortViews } from '../../netmodel/service/ports.js';
import { type NodeContext, nodeContext, type RenderOptions } from '../iptables/context.js';

export const DUMMY_DEVICE = 'kube-ipvs0';

export interface IpvsRenderOptions extends Pick<RenderOptions, 'family' | 'randomFully' | 'masqueradeMark'> {
  /**
   * Every local address of the node on interfaces other than kube-ipvs0, any family (kube-proxy reads
   * them with netlink). Default: the node's InternalIPs. The datapath passes the emulated node's
   * interface addresses (the CNI bridge's gateway address counts too on a real node).
   */
  readonly localAddresses?: readonly IP[];
  /**
   * Kernel version `major.minor`, which decides net.ipv4.vs.conn_reuse_mode (set to 0 only on 4.1 up
   * to 5.8; issue 93297). Default '6.1'.
   */
  readonly kernelVersion?: string;
  /**
   * The virtual servers the previous sync left on the node (their destinations as the kernel holds
   * them). A real server that is no longer wanted is then handled as kube-proxy's graceful termination
   * does: on a TCP virtual server it stays with weight 0 while it has connections; on UDP and SCTP, or
   * without connections, it is deleted. Without `previous` this is a first sync: no weight-0 servers.
   */
  readonly previous?: readonly IpvsServiceSpec[];
  /**
   * ActiveConn + InActConn of a real server of a previous virtual server (the kernel's counters).
   * Default: 1 for every server, i.e. assume a server that was in use still has connections.
   */
  readonly connections?: (vs: IpvsServiceSpec, dest: IpvsDestinationSpec) => number;
}

/** One virtual server with the service port it was made for. */
export interface IpvsVirtualServer {
  readonly spec: IpvsServiceSpec;
  /** `ns/name:port` (kube-proxy's ServicePortName). */
  readonly servicePort: string;
  readonly kind: 'ClusterIP' | 'ExternalIP' | 'LoadBalancer' | 'NodePort';
  /** Only local endpoints were asked for (Local policy). */
  readonly onlyNodeLocal: boolean;
  /** Local policy with no local endpoint: the cluster endpoints were used instead (PR 97081). */
  readonly localFallback: boolean;
}

export interface IpvsSetMember {
  /** kube-proxy's Entry.String(), what it passes to `ipset add`. */
  readonly text: string;
  readonly element: IpSetElement;
}

export interface IpvsNodeState {
  readonly nodeName: string;
  readonly family: Family;
  readonly ctx: NodeContext;
  readonly scheduler: IpvsSchedulerName;
  readonly virtualServers: readonly IpvsVirtualServer[];
  /** Addresses bound to kube-ipvs0 (each /32 or /128), ascending. */
  readonly dummyAddresses: readonly IP[];
  /** Node IPs that carry node-port virtual servers, ascending. */
  readonly nodePortIPs: readonly IP[];
  /** Members per set (IPv4 names as keys), sorted. */
  readonly sets: ReadonlyMap<string, readonly IpvsSetMember[]>;
  /** LB address, protocol, port that the node may not reach (KUBE-IPVS-OUT-FILTER drops). */
  readonly lbNoNodeAccess: readonly { ip: IP; protocol: string; port: number }[];
}

const PROTO_NUM: Readonly<Record<IpvsProtocol, number>> = {
  TCP: IPPROTO.TCP,
  UDP: IPPROTO.UDP,
  SCTP: IPPROTO.SCTP,
};

function schedFlags(scheduler: string): IpvsSchedFlag[] {
  // kube-proxy sets FlagSourceHash (0x10, IP_VS_SVC_F_SCHED2) for mh: ipvsadm's "mh-port".
  return scheduler === 'mh' ? ['mh-port'] : [];
}

function vsKey(protocol: string, vip: IP, port: number): string {
  return `${protocol}/${joinHostPort(vip, port)}`;
}

class SetCollector {
  readonly members = new Map<string, Map<string, IpvsSetMember>>();
  add(set: string, text: string, element: IpSetElement): void {
    let m = this.members.get(set);
    if (!m) {
      m = new Map();
      this.members.set(set, m);
    }
    m.set(text, { text, element });
  }
}

function compareElements(a: IpSetElement, b: IpSetElement): number {
  const ip = (x: IP | undefined, y: IP | undefined) => (x && y ? compareIP(x, y) : 0);
  return (
    ip(a.ip, b.ip) ||
    (a.proto ?? 0) - (b.proto ?? 0) ||
    (a.port ?? 0) - (b.port ?? 0) ||
    ip(a.ip2, b.ip2) ||
    ip(a.net?.ip, b.net?.ip) ||
    (a.net?.bits ?? 0) - (b.net?.bits ?? 0)
  );
}

function nodePortAddressesOf(ctx: NodeContext, snapshot: ClusterSnapshot, local: readonly IP[]): IP[] {
  const family = ctx.family;
  const ofFamily = local.filter((ip) => ip.family === family && !isLoopback(ip));
  const valid = ofFamily.filter((ip) => !(ip.family === 6 && ip.big >> 118n === 0x3fan));
  if (ctx.nodePortMatchAll) return valid;
  const cidrs = snapshot.proxy.nodePortAddresses.flatMap((a) =>
    a === 'primary'
      ? ctx.nodeIP
        ? [prefixOf(ctx.nodeIP, family === 4 ? 32 : 128)]
        : []
      : a.ip.family === family
        ? [a]
        : [],
  );
  return valid.filter((ip) => cidrs.some((c) => prefixContains(c, ip)));
}

/** The ipvs proxier's view of `nodeName` for `snapshot` (one family). */
export function computeIpvsNode(
  snapshot: ClusterSnapshot,
  nodeName: string,
  opts: IpvsRenderOptions = {},
): IpvsNodeState {
  const ctx = nodeContext(snapshot, nodeName, opts);
  const family = ctx.family;
  const scheduler = (snapshot.proxy.ipvsScheduler || 'rr') as IpvsSchedulerName;
  const flags = schedFlags(scheduler);
  const previous = new Map<string, IpvsServiceSpec>();
  for (const vs of opts.previous ?? []) previous.set(vsKey(vs.protocol, vs.vip, vs.port), vs);
  const connections = opts.connections ?? (() => 1);
  const local = opts.localAddresses ?? ctx.node.internalIPs;
  const localSet = new Set(local.filter((ip) => ip.family === family).map((ip) => ip.text));
  const views = servicePortViews(snapshot, nodeName, family);
  const hasNodePort = views.some((v) => v.nodePort !== 0);
  const nodeIPs = hasNodePort ? nodePortAddressesOf(ctx, snapshot, local).sort(compareIP) : [];

  const sets = new SetCollector();
  const bound = new Map<string, IP>();
  const servers: IpvsVirtualServer[] = [];
  const lbNoNodeAccess: { ip: IP; protocol: string; port: number }[] = [];

  for (const v of views) {
    const protocol = v.protocol as IpvsProtocol;
    const proto = protocol.toLowerCase();
    const protoNum = PROTO_NUM[protocol];
    const cats = categorizeEndpoints(v);

    for (const e of v.endpoints) {
      if (!e.isLocal) continue;
      sets.add('KUBE-LOOP-BACK', `${e.ip.text},${proto}:${e.port},${e.ip.text}`, {
        ip: e.ip,
        proto: protoNum,
        port: e.port,
        ip2: e.ip,
      });
    }

    const destinations = (
      vip: IP,
      port: number,
      onlyNodeLocal: boolean,
    ): { dests: IpvsDestinationSpec[]; fallback: boolean } => {
      let chosen = cats.clusterEndpoints;
      let fallback = false;
      if (onlyNodeLocal) {
        if (cats.localEndpoints.length > 0) chosen = cats.localEndpoints;
        else fallback = true;
      }
      const dests: IpvsDestinationSpec[] = chosen.map((e) => ({
        ip: e.ip,
        port: e.port,
        weight: 1,
        forward: 'Masq' as const,
      }));
      const before = previous.get(vsKey(protocol, vip, port));
      if (before && protocol === 'TCP') {
        const wanted = new Set(chosen.map((e) => e.text));
        for (const d of before.destinations)
          if (!wanted.has(joinHostPort(d.ip, d.port)) && connections(before, d) > 0)
            dests.push({ ...d, weight: 0 });
      }
      dests.sort((a, b) => compareIP(a.ip, b.ip) || a.port - b.port);
      return { dests, fallback };
    };

    const addServer = (vip: IP, port: number, kind: IpvsVirtualServer['kind'], onlyNodeLocal: boolean) => {
      const { dests, fallback } = destinations(vip, port, onlyNodeLocal);
      servers.push({
        spec: {
          protocol,
          vip,
          port,
          scheduler,
          flags,
          ...(v.affinitySeconds !== null
            ? { persistence: { timeoutSeconds: v.affinitySeconds, netmaskBits: family === 4 ? 32 : 128 } }
            : {}),
          destinations: dests,
        },
        servicePort: v.name,
        kind,
        onlyNodeLocal,
        localFallback: fallback,
      });
    };

    const ipPort = (ip: IP, port: number): IpSetElement => ({ ip, proto: protoNum, port });

    sets.add('KUBE-CLUSTER-IP', `${v.clusterIP.text},${proto}:${v.port}`, ipPort(v.clusterIP, v.port));
    addServer(v.clusterIP, v.port, 'ClusterIP', v.internalPolicyLocal);
    bound.set(v.clusterIP.text, v.clusterIP);

    for (const ext of v.externalIPs) {
      sets.add(
        v.externalPolicyLocal ? 'KUBE-EXTERNAL-IP-LOCAL' : 'KUBE-EXTERNAL-IP',
        `${ext.text},${proto}:${v.port}`,
        ipPort(ext, v.port),
      );
      addServer(ext, v.port, 'ExternalIP', v.externalPolicyLocal);
      if (!localSet.has(ext.text)) bound.set(ext.text, ext);
    }

    for (const lb of v.loadBalancerVIPs) {
      const text = `${lb.text},${proto}:${v.port}`;
      sets.add('KUBE-LOAD-BALANCER', text, ipPort(lb, v.port));
      if (v.externalPolicyLocal) sets.add('KUBE-LOAD-BALANCER-LOCAL', text, ipPort(lb, v.port));
      if (v.loadBalancerSourceRanges.length > 0) {
        sets.add('KUBE-LOAD-BALANCER-FW', text, ipPort(lb, v.port));
        let allowFromNode = false;
        for (const cidr of v.loadBalancerSourceRanges) {
          sets.add('KUBE-LOAD-BALANCER-SOURCE-CIDR', `${text},${cidr.text}`, {
            ...ipPort(lb, v.port),
            net: cidr,
          });
          if (ctx.nodeIP && prefixContains(cidr, ctx.nodeIP)) allowFromNode = true;
        }
        if (allowFromNode)
          sets.add('KUBE-LOAD-BALANCER-SOURCE-IP', `${text},${lb.text}`, { ...ipPort(lb, v.port), ip2: lb });
        else lbNoNodeAccess.push({ ip: lb, protocol: proto, port: v.port });
      }
      addServer(lb, v.port, 'LoadBalancer', v.externalPolicyLocal);
      if (!localSet.has(lb.text)) bound.set(lb.text, lb);
    }

    if (v.nodePort !== 0 && nodeIPs.length > 0) {
      const suffix = protocol === 'SCTP' ? 'SCTP-HASH' : protocol;
      const entries: IpvsSetMember[] =
        protocol === 'SCTP'
          ? nodeIPs.map((ip) => ({ text: `${ip.text},sctp:${v.nodePort}`, element: ipPort(ip, v.nodePort) }))
          : [{ text: String(v.nodePort), element: { port: v.nodePort } }];
      for (const e of entries) {
        sets.add(`KUBE-NODE-PORT-${suffix}`, e.text, e.element);
        if (v.externalPolicyLocal) sets.add(`KUBE-NODE-PORT-LOCAL-${suffix}`, e.text, e.element);
      }
      for (const ip of nodeIPs) addServer(ip, v.nodePort, 'NodePort', v.externalPolicyLocal);
    }

    if (v.healthCheckNodePort !== 0)
      sets.add('KUBE-HEALTH-CHECK-NODE-PORT', String(v.healthCheckNodePort), { port: v.healthCheckNodePort });
  }

  const dummyAddresses = [...bound.values()].sort(compareIP);
  for (const ip of dummyAddresses) sets.add('KUBE-IPVS-IPS', ip.text, { ip });

  const sorted = new Map<string, IpvsSetMember[]>();
  for (const [name, m] of sets.members)
    sorted.set(
      name,
      [...m.values()].sort((a, b) => compareElements(a.element, b.element)),
    );

  return {
    nodeName,
    family,
    ctx,
    scheduler,
    virtualServers: servers,
    dummyAddresses,
    nodePortIPs: nodeIPs,
    sets: sorted,
    lbNoNodeAccess,
  };
}
