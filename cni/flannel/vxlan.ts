/**
 * flanneld's vxlan backend (flannel-io/flannel pkg/backend/vxlan), as a pure function:
 *
 *   flannel.1   vxlan id 1, local <node IP>, dev eth0, dstport 8472, nolearning; MTU = eth0's - 50;
 *               the lease's network address as a /32 (10.244.1.0/32)
 *   per remote node B (subnet 10.244.2.0/24, public IP 10.0.0.12, VTEP MAC M), in flannel's order:
 *     ip neigh replace 10.244.2.0 dev flannel.1 lladdr M nud permanent
 *     bridge fdb append M dev flannel.1 dst 10.0.0.12 self permanent
 *     ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink
 *
 * VTEP MACs are derived from the node name (flanneld keeps a random one in the backend-data
 * annotation; every node's view of B's MAC is the one B's flannel.1 has, as here).
 */
import type { ClusterSnapshot, Node } from '../../netmodel/cluster/index.js';
import type { VxlanFdbEntry } from '../../netmodel/devices/index.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { macOf, UPLINK } from '../node-base.js';

export const FLANNEL_VXLAN = 'flannel.1';
/** flannel's VNI on Linux, and the kernel's default VXLAN port that flannel keeps. */
export const FLANNEL_VNI = 1;
export const FLANNEL_PORT = 8472;
/** encapOverhead in flannel's vxlan backend. */
export const FLANNEL_OVERHEAD = 50;

export function vtepMac(nodeName: string): string {
  return macOf(nodeName, FLANNEL_VXLAN);
}

export function addFlannelVxlan(snap: ClusterSnapshot, k: KernelNode, n: Node): void {
  const local = n.internalIPs.find((ip) => ip.family === 4);
  const cidr = n.podCIDRs.find((c) => c.ip.family === 4);
  if (!local || !cidr) return;
  const uplinkMtu = k.routing.interface(UPLINK)?.mtu ?? 1500;
  const fdb: VxlanFdbEntry[] = [];
  k.addDevice(
    { name: FLANNEL_VXLAN, kind: 'vxlan', up: true, mtu: uplinkMtu - FLANNEL_OVERHEAD },
    {
      mac: vtepMac(n.meta.name),
      spec: { kind: 'vxlan', vni: FLANNEL_VNI, port: FLANNEL_PORT, local, dev: UPLINK, learning: false, fdb },
    },
  );
  k.routing.addAddress(FLANNEL_VXLAN, `${cidr.ip.text}/32`);
  for (const other of snap.nodes) {
    if (other === n) continue;
    const ocidr = other.podCIDRs.find((c) => c.ip.family === 4);
    const pub = other.internalIPs.find((ip) => ip.family === 4);
    if (!ocidr || !pub) continue;
    const mac = vtepMac(other.meta.name);
    k.neigh.set({ ip: ocidr.ip, dev: FLANNEL_VXLAN, mac, state: 'PERMANENT', updated: 0 });
    fdb.push({ mac, dst: pub });
    k.routing.addRoute({ dst: ocidr.text, via: ocidr.ip.text, dev: FLANNEL_VXLAN, onlink: true });
  }
}
