/**
 * The bridge CNI plugin with host-local IPAM (containernetworking/plugins plugins/main/bridge,
 * plugins/ipam/host-local), as a pure function of the snapshot:
 *
 *   cni0        a Linux bridge; with isGateway the pod CIDR's .1 on it (host-local's default gateway)
 *   vethXXXXXXXX the host end of each pod's veth pair (`veth` + 8 hex, as the plugin names them), a port of cni0
 *   pod eth0    the pod end: the pod's IP (host-local hands out .2 upwards), `default via .1`
 *   MTU         the plugin's `mtu` on cni0, both veth ends
 *
 * Pod IPs come from the snapshot (netmodel/cluster/allocate.ts hands them out as host-local does).
 */
import { type IP, prefixNth } from '../../netmodel/addr.js';

function cmpIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.family === 4 && b.family === 4) return a.n - b.n;
  const x = (a as { big: bigint }).big;
  const y = (b as { big: bigint }).big;
  return x < y ? -1 : x > y ? 1 : 0;
}

import type { ClusterSnapshot, Node, Pod } from '../../netmodel/cluster/index.js';
import { fnv1a32 } from '../../netmodel/cluster/index.js';
import { BridgeFdb } from '../../netmodel/devices/index.js';
import { type KernelNode, podNsName } from '../../netmodel/kernel/index.js';
import { macOf, podNamespace, podPeer, podsOn } from '../node-base.js';

export const BRIDGE = 'cni0';

/** The host-side veth name of a pod, shaped like the bridge plugin's `veth` + 8 hex characters. */
export function vethName(pod: Pod): string {
  return `veth${fnv1a32(`${pod.meta.namespace}/${pod.meta.name}`).toString(16).padStart(8, '0')}`;
}

/**
 * cni0 with the node's gateway address, and every pod on the node behind it. Returns the pods'
 * namespaces by `ns/name`.
 */
export function addBridgePods(
  snap: ClusterSnapshot,
  k: KernelNode,
  n: Node,
  mtu: number,
): Map<string, () => KernelNode> {
  const pods = new Map<string, () => KernelNode>();
  const fdb = new BridgeFdb();
  // A bridge takes the lowest MAC of its ports until an address is set on it; the bridge plugin pins
  // it when it adds the gateway address at the first pod's ADD, so cni0 keeps that pod's host veth
  // MAC (kpath takes the pod with the lowest IP as the first). No pod yet: a MAC of its own.
  const onNode = podsOn(snap, n);
  const first = [...onNode].sort((a, b) => cmpIP(a.podIPs[0]!, b.podIPs[0]!))[0];
  const brMac = first ? macOf(n.meta.name, vethName(first)) : macOf(n.meta.name, BRIDGE);
  k.addDevice({ name: BRIDGE, kind: 'bridge', up: true, mtu }, { mac: brMac, spec: { kind: 'bridge', fdb } });
  fdb.addLocal(brMac, BRIDGE, true);
  for (const cidr of n.podCIDRs) k.routing.addAddress(BRIDGE, `${prefixNth(cidr, 1n).text}/${cidr.bits}`);
  for (const p of onNode) {
    const host = vethName(p);
    const hostMac = macOf(n.meta.name, host);
    // The flannel manifest's delegate sets hairpinMode: true; the plain bridge plugin defaults to false.
    k.addDevice(
      { name: host, kind: 'veth', up: true, mtu, master: BRIDGE, peer: 'eth0' },
      { mac: hostMac, spec: { kind: 'veth', ...podPeer(p) }, hairpin: true },
    );
    // The port's own address is a local entry, unless it is the bridge's (then the bridge owns it).
    if (hostMac !== brMac) fdb.addLocal(hostMac, host);
    // A pod's eth0 coming up sends IPv6 router solicitations and MLD reports (IPv6 is on by default),
    // so the bridge has learned every pod's MAC on its port before any traffic of ours.
    fdb.learn(macOf(podNsName(p.meta.namespace, p.meta.name), 'eth0'), host, 0);
    // The pod's own namespace is built when something first looks at it.
    pods.set(`${p.meta.namespace}/${p.meta.name}`, () => {
      const pod = podNamespace(p, n.meta.name, host, mtu);
      for (const ip of p.podIPs) {
        const cidr = n.podCIDRs.find((c) => c.ip.family === ip.family);
        pod.kernel.routing.addAddress('eth0', `${ip.text}/${cidr?.bits ?? (ip.family === 4 ? 32 : 128)}`);
        if (cidr)
          pod.kernel.routing.addRoute({
            dst: ip.family === 4 ? 'default' : '::/0',
            via: prefixNth(cidr, 1n).text,
            dev: 'eth0',
          });
      }
      return pod.kernel;
    });
  }
  return pods;
}
