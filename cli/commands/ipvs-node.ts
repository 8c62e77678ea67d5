/**
 * Shared by `kpath rules` and `kpath ipset` in ipvs mode: one node's ipvs-proxier render, with the node's
 * local addresses read from its emulated interfaces (what kube-proxy reads with netlink), and that
 * render loaded into a fresh emulated node (ipsets, then chains and jumps, then the payload).
 */
import { buildHostNetwork } from '../../cni/index.js';
import type { Family } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { KernelNode } from '../../netmodel/kernel/index.js';
import {
  applyIpvsNetfilter,
  type IpvsNodeRender,
  localAddressesOf,
  renderIpvsNode,
} from '../../proxy/ipvs/index.js';

export function ipvsRenderFor(snap: ClusterSnapshot, nodeName: string, family: Family): IpvsNodeRender {
  const host = buildHostNetwork(snap).nodes.get(nodeName);
  return renderIpvsNode(snap, nodeName, {
    family,
    ...(host ? { localAddresses: localAddressesOf(host) } : {}),
  });
}

/** A fresh emulated node holding the render's ipsets and iptables rules. */
export function loadedNode(nodeName: string, r: IpvsNodeRender): KernelNode {
  const k = new KernelNode({ name: nodeName });
  applyIpvsNetfilter(k, r);
  return k;
}
