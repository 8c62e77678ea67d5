/**
 * Per-node, per-sync settings of the iptables proxier: the masquerade mark, the local-traffic detector,
 * which addresses NodePorts answer on, whether localhost NodePorts are on. Derived once from the
 * snapshot's ProxyConfig and the node, the way kube-proxy derives them at start-up.
 */
import {
  type Family,
  type IP,
  isLoopback,
  type Prefix,
  parseIP,
  prefixContains,
  prefixOf,
} from '../../netmodel/addr.js';
import type { Node } from '../../netmodel/cluster/objects.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/snapshot.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

export interface RenderOptions {
  /** Address family of the proxier (kube-proxy runs one per family). Default 4. */
  readonly family?: Family;
  /** iptables supports MASQUERADE --random-fully (iptables >= 1.6.2 with kernel support). Default true. */
  readonly randomFully?: boolean;
  /**
   * The nfacct counters exist (kube-proxy >= 1.31 creates `ct_state_invalid_dropped_pkts` and
   * `localhost_nps_accepted_pkts` when the kernel has nfnetlink_acct). Default false.
   */
  readonly nfacct?: boolean;
  /** sysctl net.netfilter.nf_conntrack_tcp_be_liberal is non-zero: no INVALID DROP rule. Default false. */
  readonly conntrackTCPBeLiberal?: boolean;
  /**
   * The mark text. Default: kube-proxy's `%#08x` of 1 << masqueradeBit, i.e. `0x00004000`; its unit
   * tests inject `0x4000`.
   */
  readonly masqueradeMark?: string;
  /** More endpoints than this (summed over service ports) turn on large-cluster mode. Default 1000. */
  readonly largeClusterThreshold?: number;
  /**
   * kubelet started first and already inserted its `-j KUBE-FIREWALL` jumps, so they sit below
   * kube-proxy's (the usual node). Default true.
   */
  readonly kubeletJumpsFirst?: boolean;
}

export interface LocalDetector {
  readonly mode: 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
  /** Matches that select pod traffic, e.g. `-s 10.244.0.0/16`. */
  readonly ifLocal: string;
  /** Matches that select non-pod traffic, e.g. `! -s 10.244.0.0/16`. */
  readonly ifNotLocal: string;
}

export interface NodeContext {
  readonly node: Node;
  readonly family: Family;
  /** The node's primary IP of the family (kube-proxy's nodeIP), if any. */
  readonly nodeIP: IP | undefined;
  readonly mark: string;
  readonly masqueradeAll: boolean;
  readonly randomFully: boolean;
  readonly nfacct: boolean;
  readonly conntrackTCPBeLiberal: boolean;
  readonly largeClusterThreshold: number;
  readonly kubeletJumpsFirst: boolean;
  /** null: no detector (kube-proxy's no-op detector): no "not local" masquerade rule, no pod short-circuit. */
  readonly detector: LocalDetector | null;
  /** IPv4 only, and only when nodePortAddresses admits 127.0.0.1. */
  readonly localhostNodePorts: boolean;
  /** nodePortAddresses is empty (or has a zero CIDR): NodePorts on every local address. */
  readonly nodePortMatchAll: boolean;
  /** When not matchAll: the local addresses inside nodePortAddresses, loopback first. */
  readonly nodePortIPs: readonly IP[];
}

/** Go's `fmt.Sprintf("%#08x", v)`: eight hex digits after 0x. */
export function formatMark(bit: number): string {
  return `0x${(2 ** bit).toString(16).padStart(8, '0')}`;
}

function detectorOf(snapshot: ClusterSnapshot, node: Node, family: Family): LocalDetector | null {
  const p = snapshot.proxy;
  const cidr = (list: readonly Prefix[]) => list.find((c) => c.ip.family === family);
  switch (p.detectLocalMode) {
    case 'ClusterCIDR': {
      const c = cidr(p.clusterCIDRs);
      return c ? { mode: 'ClusterCIDR', ifLocal: `-s ${c.text}`, ifNotLocal: `! -s ${c.text}` } : null;
    }
    case 'NodeCIDR': {
      const c = cidr(node.podCIDRs);
      return c ? { mode: 'NodeCIDR', ifLocal: `-s ${c.text}`, ifNotLocal: `! -s ${c.text}` } : null;
    }
    case 'BridgeInterface': {
      const br = p.detectLocal.bridgeInterface;
      return br ? { mode: 'BridgeInterface', ifLocal: `-i ${br}`, ifNotLocal: `! -i ${br}` } : null;
    }
    case 'InterfaceNamePrefix': {
      const pre = p.detectLocal.interfaceNamePrefix;
      return pre ? { mode: 'InterfaceNamePrefix', ifLocal: `-i ${pre}+`, ifNotLocal: `! -i ${pre}+` } : null;
    }
  }
}

const LOOPBACK4 = parseIP('127.0.0.1');
const LOOPBACK6 = parseIP('::1');

export function nodeContext(
  snapshot: ClusterSnapshot,
  nodeName: string,
  opts: RenderOptions = {},
): NodeContext {
  const node = snapshot.node(nodeName);
  if (!node) {
    const known = snapshot.nodes.map((n) => n.meta.name).join(', ') || 'none';
    throw new KpathError(ErrorCodes.NOT_FOUND, `node "${nodeName}" is not in the cluster (nodes: ${known})`);
  }
  const family = opts.family ?? 4;
  const p = snapshot.proxy;
  const nodeIPs = node.internalIPs.filter((ip) => ip.family === family);
  const nodeIP = nodeIPs[0];

  // kube-proxy's NodePortAddresses: CIDRs of the family ("primary" is the node IP); none -> match all.
  const cidrs: Prefix[] = [];
  for (const a of p.nodePortAddresses) {
    if (a === 'primary') {
      if (nodeIP) cidrs.push(prefixOf(nodeIP, family === 4 ? 32 : 128));
    } else if (a.ip.family === family) cidrs.push(a);
  }
  const nodePortMatchAll = cidrs.length === 0 || cidrs.some((c) => c.bits === 0);
  const containsV4Loopback =
    family === 4 && (nodePortMatchAll || cidrs.some((c) => prefixContains(c, LOOPBACK4)));
  const localhostNodePorts = family === 4 && p.localhostNodePorts && containsV4Loopback;
  const localAddrs = [family === 4 ? LOOPBACK4 : LOOPBACK6, ...nodeIPs];
  const nodePortIPs = nodePortMatchAll
    ? []
    : localAddrs.filter(
        (ip) => cidrs.some((c) => prefixContains(c, ip)) && !(isLoopback(ip) && !localhostNodePorts),
      );

  return {
    node,
    family,
    nodeIP,
    mark: opts.masqueradeMark ?? formatMark(p.masqueradeBit),
    masqueradeAll: p.masqueradeAll,
    randomFully: opts.randomFully ?? true,
    nfacct: opts.nfacct ?? false,
    conntrackTCPBeLiberal: opts.conntrackTCPBeLiberal ?? false,
    largeClusterThreshold: opts.largeClusterThreshold ?? 1000,
    kubeletJumpsFirst: opts.kubeletJumpsFirst ?? true,
    detector: detectorOf(snapshot, node, family),
    localhostNodePorts,
    nodePortMatchAll,
    nodePortIPs,
  };
}
