/**
 * kube-proxy's ipvs proxier applied to one emulated node: the node program ipvs mode runs on every
 * sync (proxy/datapath.ts calls it through DatapathOptions.ipvs; kpath trace calls it directly).
 */
import type { Family } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { IpvsTable, KUBE_PROXY_IPVS_SYSCTLS } from '../../netmodel/ipvs/index.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { applyIpvsNetfilter, type IpvsNodeRender, localAddressesOf, renderIpvsNode } from './render.js';

/**
 * One ipvs-mode sync of a node, as kube-proxy's ipvs proxier does it: the node's IPVS (created with
 * the sysctls kube-proxy sets, net.ipv4.vs.conntrack=1 among them) programmed to the render's virtual
 * servers, every service address bound to the kube-ipvs0 dummy (down, as kube-proxy leaves it: the
 * kernel still makes its local routes), the `ipvsadm --set` timeouts, then the ipsets and iptables.
 * The previous sync's virtual servers and the kernel's connection counts decide which real servers
 * stay with weight 0 (graceful termination).
 */
export function programIpvs(
  snap: ClusterSnapshot,
  name: string,
  node: KernelNode,
  family: Family,
  now = 0,
): IpvsNodeRender {
  let table = node.ipvs;
  if (!table) {
    table = new IpvsTable({ sysctls: KUBE_PROXY_IPVS_SYSCTLS });
    node.ipvs = table;
  }
  const kernel = table;
  const previous = kernel.specs().filter((s) => s.vip.family === family);
  const r = renderIpvsNode(snap, name, {
    family,
    localAddresses: localAddressesOf(node),
    previous,
    connections: (vs, d) => {
      const dest = kernel.findService(vs.protocol, vs.vip, vs.port)?.find(d.ip, d.port);
      return dest ? dest.activeConns + dest.inactConns : 0;
    },
  });
  // The other family's proxier owns the other family's virtual servers.
  kernel.sync([...kernel.specs().filter((s) => s.vip.family !== family), ...r.services], now);
  if (r.timeouts) kernel.setTimeouts(r.timeouts);
  const routing = node.routing;
  if (!routing.interface(r.dummy.device))
    routing.addInterface({ name: r.dummy.device, kind: 'dummy', up: false });
  const bound = new Set(routing.interface(r.dummy.device)!.addresses.map((a) => a.ip.text));
  const want = new Set(r.dummy.addresses.map((ip) => ip.text));
  for (const ip of r.dummy.addresses)
    if (!bound.has(ip.text)) routing.addAddress(r.dummy.device, `${ip.text}/${ip.family === 4 ? 32 : 128}`);
  for (const a of routing.interface(r.dummy.device)!.addresses)
    if (a.ip.family === family && !want.has(a.ip.text)) routing.delAddress(r.dummy.device, a.ip.text);
  applyIpvsNetfilter(node, r);
  return r;
}
