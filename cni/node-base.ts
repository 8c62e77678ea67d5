/**
 * What every emulated node has whatever the pod network: lo, the uplink eth0 on the underlay
 * segment with every address the Node lists (kube-proxy's `addrtype LOCAL` matches each), and a
 * default route via the first address of the node network (its router, which kpath does not model).
 * And what every pod has: its own namespace with eth0 (one end of a veth pair) and lo.
 */
import { type IP, ipEquals, prefixContains, prefixNth, prefixOf } from '../netmodel/addr.js';
import type { ClusterSnapshot, Node, Pod } from '../netmodel/cluster/index.js';
import { deriveMac, type Link } from '../netmodel/devices/index.js';
import { KernelNode, podNsName } from '../netmodel/kernel/index.js';

export const UPLINK = 'eth0';
/** The L2 segment every node's uplink is on. */
export const UNDERLAY = 'underlay';

/** The prefix length of a node address: the node network's, else /24 (/64 for IPv6). */
export function nodeAddressBits(snap: ClusterSnapshot, ip: IP): number {
  const c = snap.config.nodeCIDR;
  if (ip.family === c.ip.family && prefixContains(c, ip)) return c.bits;
  return ip.family === 4 ? 24 : 64;
}

/** The MAC of a device, derived from its namespace and name (see netmodel/devices/mac.ts). */
export function macOf(ns: string, dev: string): string {
  return deriveMac(`${ns}/${dev}`);
}

export function nodeBase(snap: ClusterSnapshot, n: Node, keep?: KernelNode): KernelNode {
  const k = new KernelNode({ name: n.meta.name, ...(keep ? { keep } : {}) });
  k.addDevice(
    { name: UPLINK, kind: 'ethernet', up: true, mtu: 1500 },
    { mac: macOf(n.meta.name, UPLINK), spec: { kind: 'ethernet', segment: UNDERLAY } },
  );
  for (const ip of n.internalIPs) k.routing.addAddress(UPLINK, `${ip.text}/${nodeAddressBits(snap, ip)}`);
  return k;
}

/** The node's default route via the first address of its network, added after the plugin's routes. */
export function defaultRoute(snap: ClusterSnapshot, k: KernelNode, n: Node): void {
  const primary = n.internalIPs.find((ip) => ip.family === 4);
  if (!primary) return;
  const gw = prefixNth(prefixOf(primary, nodeAddressBits(snap, primary)), 1n);
  if (!ipEquals(gw, primary)) k.routing.addRoute({ dst: 'default', via: gw.text, dev: UPLINK });
}

/** Is `gw` on one of the node's own uplink subnets (host-gw needs L2 adjacency)? */
export function onUplinkSubnet(snap: ClusterSnapshot, n: Node, gw: IP): boolean {
  return n.internalIPs.some(
    (mine) => mine.family === gw.family && prefixContains(prefixOf(mine, nodeAddressBits(snap, mine)), gw),
  );
}

/** A pod's namespace: lo, and eth0 as the pod end of a veth whose host end is (hostNs, hostDev). */
export function podNamespace(
  pod: Pod,
  hostNs: string,
  hostDev: string,
  mtu: number,
): { ns: string; kernel: KernelNode; eth0: Omit<Link, 'name'> } {
  const ns = podNsName(pod.meta.namespace, pod.meta.name);
  const k = new KernelNode({ name: ns, ipForward: false, conntrackOnDemand: true });
  const eth0: Omit<Link, 'name'> = {
    mac: macOf(ns, 'eth0'),
    spec: { kind: 'veth', peerNs: hostNs, peer: hostDev },
  };
  k.addDevice({ name: 'eth0', kind: 'veth', up: true, mtu, peer: hostDev }, eth0);
  return { ns, kernel: k, eth0 };
}

/** The pod end's veth data, for the host end's peer link. */
export function podPeer(pod: Pod): { peerNs: string; peer: string } {
  return { peerNs: podNsName(pod.meta.namespace, pod.meta.name), peer: 'eth0' };
}

/** Pods that get a network namespace on node `n`: scheduled there, not hostNetwork, with an IP. */
export function podsOn(snap: ClusterSnapshot, n: Node): Pod[] {
  return snap.pods.filter((p) => p.nodeName === n.meta.name && !p.hostNetwork && p.podIPs.length > 0);
}
