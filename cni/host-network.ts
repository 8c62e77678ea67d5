/**
 * Pod networking in the emulated nodes: the plugin the Cluster names (`spec.network`), run as a
 * pure function of the snapshot on every node, and the namespaces it makes joined into one world
 * the device walker moves packets through.
 *
 *   bridge (default)  cni0 + host-local + static host-gw routes            cni/bridge
 *   flannel vxlan     cni0 + host-local (the flannel CNI wrapper's delegate), flannel.1, flanneld's
 *                     neighbour/FDB/route per remote node and its iptables rules    cni/flannel
 *   flannel host-gw   cni0 + host-local, routes via the remote node's address
 *   calico bgp|vxlan  cali veths with proxy ARP, /32 host routes, BGP routes or vxlan.calico   cni/calico
 *   every plugin      the conflist's portmap plugin for pods with a hostPort                      cni/portmap
 *
 * Every node has eth0 on the underlay with all of its addresses and a default route (node-base.ts);
 * every pod with an IP gets its own namespace `pod/NS/NAME`.
 */
import type { IP } from '../netmodel/addr.js';
import { prefixContains } from '../netmodel/addr.js';
import type { ClusterSnapshot, NetworkConfig, Node, Pod } from '../netmodel/cluster/index.js';
import type { Attachment, KernelNode, NetWorld } from '../netmodel/kernel/index.js';
import { addBridgePods, addHostGwRoutes, BRIDGE, vethName } from './bridge/index.js';
import { addCalicoBgpRoutes, addCalicoPods, addCalicoVxlan, addFelixNat, caliName } from './calico/index.js';
import { addFlannelVxlan, FLANNEL_OVERHEAD, flannelRestore } from './flannel/index.js';
import { defaultRoute, nodeBase, UNDERLAY, UPLINK } from './node-base.js';
import { addHostPorts } from './portmap/index.js';

export interface HostNetwork extends NetWorld {
  readonly nodes: ReadonlyMap<string, KernelNode>;
  /** A pod's namespace by `ns/name` (built on first use). */
  pod(key: string): KernelNode | undefined;
  readonly network: NetworkConfig;
  /** The node whose address this is (InternalIP), if any. */
  nodeByAddress(ip: IP): Node | undefined;
  /** The pod with this IP (not hostNetwork), if any. */
  podByAddress(ip: IP): Pod | undefined;
  /** The node a pod runs on. */
  nodeOfPod(pod: Pod): Node | undefined;
  /** The interface a packet from `src` arrives on at `node` (PREROUTING's `-i`). */
  ingressFor(node: string, src: IP): string;
}

/**
 * The interface a packet from `src` arrives on at a bridge-plugin node (PREROUTING's `-i`): the
 * bridge for the node's own pods (their pod CIDR), the uplink for everything else.
 */
export function ingressInterface(node: Pick<Node, 'podCIDRs'> | undefined, src: IP): string {
  return node?.podCIDRs.some((c) => prefixContains(c, src)) ? BRIDGE : UPLINK;
}

/** The pods' MTU: the configured one, else what the plugin computes from the uplink's 1500. */
export function podMtu(net: NetworkConfig): number {
  if (net.mtu !== undefined) return net.mtu;
  return net.backend === 'vxlan' ? 1500 - FLANNEL_OVERHEAD : 1500;
}

function buildNode(
  snap: ClusterSnapshot,
  n: Node,
  keep: KernelNode | undefined,
  pods: Map<string, () => KernelNode>,
): KernelNode {
  const net = snap.config.network;
  const k = nodeBase(snap, n, keep);
  const mtu = podMtu(net);
  const add = (m: Map<string, () => KernelNode>) => {
    for (const [key, v] of m) pods.set(key, v);
  };
  if (net.plugin === 'calico') {
    add(addCalicoPods(snap, k, n, mtu));
    if (net.backend === 'vxlan') addCalicoVxlan(snap, k, n);
    else addCalicoBgpRoutes(snap, k, n);
    addFelixNat(snap, k);
  } else {
    add(addBridgePods(snap, k, n, mtu));
    if (net.plugin === 'flannel' && net.backend === 'vxlan') addFlannelVxlan(snap, k, n);
    else addHostGwRoutes(snap, k, n);
    const network = snap.config.podCIDRs.find((c) => c.ip.family === 4);
    const subnet = n.podCIDRs.find((c) => c.ip.family === 4);
    if (
      net.plugin === 'flannel' &&
      network &&
      subnet &&
      !k.rules(4).tables.get('nat')?.chains.has('FLANNEL-POSTRTG')
    )
      k.restore(flannelRestore(network, subnet), { noflush: true });
  }
  // The conflist's portmap plugin, for pods with a hostPort.
  addHostPorts(snap, k, n);
  defaultRoute(snap, k, n);
  return k;
}

/** Build every node's and pod's namespace; `previous` nodes keep their conntrack, recent lists and rules. */
/** Source addresses whose ingress interface a world keeps per node (ingressFor) before starting afresh. */
const INGRESS_REMEMBERED = 4096;

export function buildHostNetwork(
  snap: ClusterSnapshot,
  previous?: ReadonlyMap<string, KernelNode>,
): HostNetwork {
  const nodes = new Map<string, KernelNode>();
  const pods = new Map<string, () => KernelNode>();
  const built = new Map<string, KernelNode>();
  const pod = (key: string): KernelNode | undefined => {
    let k = built.get(key);
    if (!k) {
      k = pods.get(key)?.();
      if (k) built.set(key, k);
    }
    return k;
  };
  for (const n of snap.nodes) nodes.set(n.meta.name, buildNode(snap, n, previous?.get(n.meta.name), pods));
  const byNodeIP = new Map<string, Node>();
  for (const n of snap.nodes) for (const ip of n.internalIPs) byNodeIP.set(ip.text, n);
  const byPodIP = new Map<string, Pod>();
  for (const p of snap.pods) if (!p.hostNetwork) for (const ip of p.podIPs) byPodIP.set(ip.text, p);
  const ingress = new Map<string, Map<string, string>>();
  const underlay: Attachment[] = [...nodes.keys()].map((ns) => ({ ns, dev: UPLINK }));
  const net = snap.config.network;
  return {
    nodes,
    pod,
    network: net,
    ns: (name) => nodes.get(name) ?? (name.startsWith('pod/') ? pod(name.slice(4)) : undefined),
    segment: (name) => (name === UNDERLAY ? underlay : []),
    nodeByAddress: (ip) => byNodeIP.get(ip.text),
    podByAddress: (ip) => byPodIP.get(ip.text),
    nodeOfPod: (pod) => (pod.nodeName ? snap.node(pod.nodeName) : undefined),
    ingressFor: (node, src) => {
      // Asked for every packet the proxy's kernel modes walk in from a pod: answers are kept per node
      // and source address for this snapshot's world (a bounded cache, not a record of every client).
      let known = ingress.get(node);
      if (!known) {
        known = new Map();
        ingress.set(node, known);
      }
      let dev = known.get(src.text);
      if (dev === undefined) {
        const pod = byPodIP.get(src.text);
        if (net.plugin === 'calico') dev = pod && pod.nodeName === node ? caliName(pod) : UPLINK;
        else dev = ingressInterface(snap.node(node), src);
        if (known.size >= INGRESS_REMEMBERED) known.clear();
        known.set(src.text, dev);
      }
      return dev;
    },
  };
}

/** The host-side device of a pod's veth under the cluster's plugin. */
export function hostVethOf(net: NetworkConfig, pod: Pod): string {
  return net.plugin === 'calico' ? caliName(pod) : vethName(pod);
}
