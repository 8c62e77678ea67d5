/**
 * host-gw routing (flannel's host-gw backend, and kpath's static routes under the bridge plugin):
 * every other node's pod CIDR via that node's address on the uplink, when that address is on the
 * node's own link (host-gw needs L2 adjacency; other nodes are left out).
 */
import type { ClusterSnapshot, Node } from '../../netmodel/cluster/index.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { onUplinkSubnet, UPLINK } from '../node-base.js';

export function addHostGwRoutes(snap: ClusterSnapshot, k: KernelNode, n: Node): void {
  for (const other of snap.nodes) {
    if (other === n) continue;
    for (const cidr of other.podCIDRs) {
      const gw = other.internalIPs.find((ip) => ip.family === cidr.ip.family);
      if (gw && onUplinkSubnet(snap, n, gw))
        k.routing.addRoute({ dst: cidr.text, via: gw.text, dev: UPLINK });
    }
  }
}
