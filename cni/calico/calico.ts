/**
 * Calico's routed pod network (the calico CNI plugin and felix's route programming), as a pure
 * function of the snapshot:
 *
 *   pod eth0      the pod's IP as a /32; `169.254.1.1 dev eth0 scope link`, `default via 169.254.1.1 dev eth0`
 *   caliXXXXXXXXXXX  the host end: `cali` + the first 11 hex digits of sha1("<namespace>.<pod>")
 *                 (VethNameForWorkload), MAC ee:ee:ee:ee:ee:ee, proxy_arp=1 (so the host answers the
 *                 pod's ARP for 169.254.1.1), no address
 *   host routes   `<pod IP> dev caliX scope link` per local pod;
 *     bgp         `blackhole <own block> proto bird`, `<remote block> via <node IP> dev eth0 proto bird`
 *     vxlan       vxlan.calico (VNI 4096, UDP 4789, MTU uplink - 50) with the block's network address,
 *                 `<remote block> via <remote tunnel address> dev vxlan.calico onlink`, permanent
 *                 neighbour and FDB entries per remote node
 *
 * kpath takes each node's pod CIDR as its Calico IPAM block (as Calico does with host-local IPAM
 * and usePodCidr), and the block's network address as the VXLAN tunnel address. Of felix's iptables
 * chains only natOutgoing is modelled (felix.ts).
 */
import { createHash } from 'node:crypto';
import type { ClusterSnapshot, Node, Pod } from '../../netmodel/cluster/index.js';
import { CALICO_HOST_MAC, type VxlanFdbEntry } from '../../netmodel/devices/index.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { macOf, podNamespace, podPeer, podsOn, UPLINK } from '../node-base.js';

export const CALICO_GATEWAY = '169.254.1.1';
export const CALICO_VXLAN = 'vxlan.calico';
/** Felix's defaults: VXLANVNI 4096, VXLANPort 4789. */
export const CALICO_VNI = 4096;
export const CALICO_VXLAN_PORT = 4789;

/** Calico's host-side veth name for a pod (VethNameForWorkload). */
export function caliName(pod: Pod): string {
  const h = createHash('sha1').update(`${pod.meta.namespace}.${pod.meta.name}`).digest('hex');
  return `cali${h.slice(0, 11)}`;
}

export function addCalicoPods(
  snap: ClusterSnapshot,
  k: KernelNode,
  n: Node,
  mtu: number,
): Map<string, () => KernelNode> {
  const pods = new Map<string, () => KernelNode>();
  for (const p of podsOn(snap, n)) {
    const host = caliName(p);
    k.addDevice(
      { name: host, kind: 'veth', up: true, mtu, peer: 'eth0' },
      { mac: CALICO_HOST_MAC, spec: { kind: 'veth', ...podPeer(p) }, proxyArp: true },
    );
    for (const ip of p.podIPs)
      if (ip.family === 4) k.routing.addRoute({ dst: `${ip.text}/32`, dev: host, scope: 'link' });
    pods.set(`${p.meta.namespace}/${p.meta.name}`, () => {
      const pod = podNamespace(p, n.meta.name, host, mtu);
      const r = pod.kernel.routing;
      for (const ip of p.podIPs) if (ip.family === 4) r.addAddress('eth0', `${ip.text}/32`);
      r.addRoute({ dst: `${CALICO_GATEWAY}/32`, dev: 'eth0', scope: 'link' });
      r.addRoute({ dst: 'default', via: CALICO_GATEWAY, dev: 'eth0' });
      return pod.kernel;
    });
  }
  return pods;
}

/** BGP (BIRD) routes: a blackhole for the own block, every remote block via its node. */
export function addCalicoBgpRoutes(snap: ClusterSnapshot, k: KernelNode, n: Node): void {
  for (const c of n.podCIDRs)
    if (c.ip.family === 4) k.routing.addRoute({ type: 'blackhole', dst: c.text, proto: 'bird' });
  for (const other of snap.nodes) {
    if (other === n) continue;
    const gw = other.internalIPs.find((ip) => ip.family === 4);
    for (const c of other.podCIDRs)
      if (gw && c.ip.family === 4)
        k.routing.addRoute({ dst: c.text, via: gw.text, dev: UPLINK, proto: 'bird' });
  }
}

/** Calico's VXLAN overlay: vxlan.calico and, per remote node, a neighbour, an FDB entry and a route. */
export function addCalicoVxlan(snap: ClusterSnapshot, k: KernelNode, n: Node): void {
  const local = n.internalIPs.find((ip) => ip.family === 4);
  const cidr = n.podCIDRs.find((c) => c.ip.family === 4);
  if (!local || !cidr) return;
  const fdb: VxlanFdbEntry[] = [];
  const mtu = (k.routing.interface(UPLINK)?.mtu ?? 1500) - 50;
  k.addDevice(
    { name: CALICO_VXLAN, kind: 'vxlan', up: true, mtu },
    {
      mac: macOf(n.meta.name, CALICO_VXLAN),
      spec: {
        kind: 'vxlan',
        vni: CALICO_VNI,
        port: CALICO_VXLAN_PORT,
        local,
        dev: UPLINK,
        learning: false,
        fdb,
      },
    },
  );
  k.routing.addAddress(CALICO_VXLAN, `${cidr.ip.text}/32`);
  for (const other of snap.nodes) {
    if (other === n) continue;
    const oc = other.podCIDRs.find((c) => c.ip.family === 4);
    const pub = other.internalIPs.find((ip) => ip.family === 4);
    if (!oc || !pub) continue;
    const mac = macOf(other.meta.name, CALICO_VXLAN);
    k.neigh.set({ ip: oc.ip, dev: CALICO_VXLAN, mac, state: 'PERMANENT', updated: 0 });
    fdb.push({ mac, dst: pub });
    k.routing.addRoute({ dst: oc.text, via: oc.ip.text, dev: CALICO_VXLAN, onlink: true });
  }
}
