/**
 * Pod networking in the emulated nodes, as a bridge CNI with host-gw routing sets it up:
 *
 *   node "worker-1"                                   every other node
 *   lo        127.0.0.1/8                              ...
 *   eth0      10.0.0.12/24 (the node's InternalIP)     eth0 10.0.0.13/24
 *   cni0      10.244.1.1/24 (bridge, gateway of pods)  cni0 10.244.2.1/24
 *   vethXXXX  one per pod, enslaved to cni0
 *   routes    10.244.2.0/24 via 10.0.0.13 dev eth0     (one per other node's pod CIDR: host-gw)
 *             default via <first address of the node network> dev eth0
 *
 * Pods are endpoints behind cni0: traffic from a pod arrives on cni0 (bridged, so br_netfilter hands it
 * to iptables with physdev-in = the pod's veth), traffic to a pod leaves on cni0. The VXLAN overlay is
 * a later step; host-gw gives the same iptables behaviour with a simpler underlay.
 */
import { type IP, ipEquals, prefixContains, prefixNth, prefixOf } from '../netmodel/addr.js';
import type { ClusterSnapshot, Node, Pod } from '../netmodel/cluster/index.js';
import { fnv1a32 } from '../netmodel/cluster/index.js';
import { KernelNode } from '../netmodel/kernel/index.js';

export const BRIDGE = 'cni0';
export const UPLINK = 'eth0';

/** The host-side veth name of a pod, shaped like the bridge plugin's `veth` + 8 hex characters. */
export function vethName(pod: Pod): string {
  return `veth${fnv1a32(`${pod.meta.namespace}/${pod.meta.name}`).toString(16).padStart(8, '0')}`;
}

/**
 * The interface a packet from `src` arrives on at `node` (PREROUTING's `-i`): the bridge for the
 * node's own pods (their pod CIDR), the uplink for everything else.
 */
export function ingressInterface(node: Pick<Node, 'podCIDRs'> | undefined, src: IP): string {
  return node?.podCIDRs.some((c) => prefixContains(c, src)) ? BRIDGE : UPLINK;
}

export interface HostNetwork {
  readonly nodes: ReadonlyMap<string, KernelNode>;
  /** The node whose address this is (InternalIP), if any. */
  nodeByAddress(ip: IP): Node | undefined;
  /** The pod with this IP (not hostNetwork), if any. */
  podByAddress(ip: IP): Pod | undefined;
  /** The node a pod runs on. */
  nodeOfPod(pod: Pod): Node | undefined;
}

/** Build every node's interfaces and routes; `previous` nodes keep their conntrack, recent lists and rules. */
export function buildHostNetwork(
  snap: ClusterSnapshot,
  previous?: ReadonlyMap<string, KernelNode>,
): HostNetwork {
  const nodes = new Map<string, KernelNode>();
  const nodeCIDR = snap.config.nodeCIDR;
  for (const n of snap.nodes) {
    const keep = previous?.get(n.meta.name);
    const k = new KernelNode({ name: n.meta.name, ...(keep ? { keep } : {}) });
    const r = k.routing;
    r.addInterface({ name: UPLINK, kind: 'ethernet', up: true });
    for (const ip of n.internalIPs) {
      const bits =
        ip.family === nodeCIDR.ip.family && prefixContains(nodeCIDR, ip)
          ? nodeCIDR.bits
          : ip.family === 4
            ? 24
            : 64;
      r.addAddress(UPLINK, `${ip.text}/${bits}`);
    }
    r.addInterface({ name: BRIDGE, kind: 'bridge', up: true });
    for (const cidr of n.podCIDRs) r.addAddress(BRIDGE, `${prefixNth(cidr, 1n).text}/${cidr.bits}`);
    for (const p of snap.pods) {
      if (p.nodeName !== n.meta.name || p.hostNetwork || p.podIPs.length === 0) continue;
      r.addInterface({ name: vethName(p), kind: 'veth', up: true, master: BRIDGE });
    }
    // host-gw: every other node's pod CIDRs via that node's address, when it is on our link.
    for (const other of snap.nodes) {
      if (other === n) continue;
      for (const cidr of other.podCIDRs) {
        const gw = other.internalIPs.find((ip) => ip.family === cidr.ip.family);
        const onLink =
          gw &&
          n.internalIPs.some(
            (mine) =>
              mine.family === gw.family &&
              prefixContains(
                prefixOf(
                  mine,
                  gw.family === nodeCIDR.ip.family && prefixContains(nodeCIDR, mine) ? nodeCIDR.bits : 24,
                ),
                gw,
              ),
          );
        if (gw && onLink) r.addRoute({ dst: cidr.text, via: gw.text, dev: UPLINK });
      }
    }
    // A default route via the first address of the node's network (its router), as nodes have.
    const primary = n.internalIPs.find((ip) => ip.family === 4);
    if (primary) {
      const bits = prefixContains(nodeCIDR, primary) ? nodeCIDR.bits : 24;
      const gw = prefixNth(prefixOf(primary, bits), 1n);
      if (!ipEquals(gw, primary)) r.addRoute({ dst: 'default', via: gw.text, dev: UPLINK });
    }
    nodes.set(n.meta.name, k);
  }
  const byNodeIP = new Map<string, Node>();
  for (const n of snap.nodes) for (const ip of n.internalIPs) byNodeIP.set(ip.text, n);
  const byPodIP = new Map<string, Pod>();
  for (const p of snap.pods) if (!p.hostNetwork) for (const ip of p.podIPs) byPodIP.set(ip.text, p);
  return {
    nodes,
    nodeByAddress: (ip) => byNodeIP.get(ip.text),
    podByAddress: (ip) => byPodIP.get(ip.text),
    nodeOfPod: (pod) => (pod.nodeName ? snap.node(pod.nodeName) : undefined),
  };
}
