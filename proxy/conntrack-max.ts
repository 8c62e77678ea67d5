/**
 * kube-proxy's conntrack sizing at startup (cmd/kube-proxy/app: getConntrackMax, then
 * realConntracker.SetMax): with conntrack.maxPerCore > 0, nf_conntrack_max = maxPerCore x the
 * node's CPUs, or conntrack.min when that is larger; with maxPerCore 0 (or unset here) the node's
 * own value stays. kube-proxy counts the CPUs it may run on; kpath reads the Node's
 * status.capacity.cpu (1 when the Node does not say).
 */
import type { ClusterSnapshot, Node } from '../netmodel/cluster/index.js';
import type { KernelNode } from '../netmodel/kernel/index.js';

/** A Node's CPUs from status.capacity.cpu ("4", 4 or "3500m", rounded up as a whole CPU). */
export function nodeCpus(n: Node): number {
  const status = (n.raw.status ?? {}) as { capacity?: { cpu?: unknown } };
  const v = status.capacity?.cpu;
  const milli = typeof v === 'string' && /^\d+m$/.test(v) ? Number(v.slice(0, -1)) : undefined;
  const cpus = milli !== undefined ? Math.ceil(milli / 1000) : Number(v);
  return Number.isInteger(cpus) && cpus > 0 ? cpus : 1;
}

/** nf_conntrack_max as kube-proxy would set it on the node, or undefined when it leaves it. */
export function kubeProxyConntrackMax(snap: ClusterSnapshot, n: Node): number | undefined {
  const c = snap.proxy.conntrack;
  if (!c || c.maxPerCore <= 0) return undefined;
  const scaled = c.maxPerCore * nodeCpus(n);
  return scaled > c.min ? scaled : c.min;
}

/** Set the node kernel's nf_conntrack_max as kube-proxy does at startup (no-op when it would not). */
export function applyConntrackMax(snap: ClusterSnapshot, name: string, node: KernelNode): void {
  const n = snap.node(name);
  const max = n ? kubeProxyConntrackMax(snap, n) : undefined;
  if (max !== undefined && node.conntrack.sysctls.nf_conntrack_max !== max)
    node.conntrack.setSysctls({ nf_conntrack_max: max });
}
