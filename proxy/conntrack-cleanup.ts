/**
 * kube-proxy's stale UDP conntrack cleanup, run after every sync in iptables and ipvs mode
 * (pkg/proxy/conntrack/cleanup.go, CleanStaleEntries, 1.30+). UDP has no connection for a removed
 * endpoint to break, so without it a client that keeps sending (DNS from a long-lived socket, a
 * syslog or statsd stream) stays DNATed to the endpoint that left for as long as its conntrack entry
 * lives. The rule, per IP family:
 *
 * - for every UDP service port with at least one serving endpoint (a port without any keeps its
 *   entries: there is nowhere better to send them), the frontends are clusterIP:port, each
 *   load-balancer IP:port and each external IP:port, plus `*:nodePort`;
 * - a UDP entry whose original destination is such a frontend, or whose original destination port
 *   is such a node port, and whose reply source is not the IP of one of that port's serving
 *   endpoints, is deleted: with filters `-p udp --orig-dst VIP --orig-port-dst PORT --reply-src EP`
 *   and `-p udp --orig-port-dst NODEPORT --reply-src EP`, as kube-proxy builds them.
 *
 * Traffic policies, topology and terminating state are not looked at (serving is what counts), so
 * UDP behaves like TCP, whose connections to a terminating endpoint also live on.
 */
import type { Family } from '../netmodel/addr.js';
import type { ClusterSnapshot } from '../netmodel/cluster/index.js';
import type { Tuple } from '../netmodel/conntrack/index.js';
import type { KernelNode } from '../netmodel/kernel/index.js';
import { servicePortViews } from '../netmodel/service/index.js';

/** `ip:port` of each UDP frontend -> its serving endpoint IPs; node port -> the same. */
export interface UdpFrontends {
  readonly byAddress: ReadonlyMap<string, ReadonlySet<string>>;
  readonly byNodePort: ReadonlyMap<number, ReadonlySet<string>>;
}

/** What kube-proxy on `nodeName` maps from its service ports and endpoints, for one family. */
export function udpFrontends(snap: ClusterSnapshot, nodeName: string, family: Family): UdpFrontends {
  const byAddress = new Map<string, Set<string>>();
  const byNodePort = new Map<number, Set<string>>();
  for (const v of servicePortViews(snap, nodeName, family)) {
    if (v.protocol !== 'UDP') continue;
    const ips = new Set(v.endpoints.filter((e) => e.serving).map((e) => e.ip.text));
    if (ips.size === 0) continue;
    for (const vip of [v.clusterIP, ...v.loadBalancerVIPs, ...v.externalIPs])
      byAddress.set(`${vip.text}|${v.port}`, ips);
    if (v.nodePort) byNodePort.set(v.nodePort, ips);
  }
  return { byAddress, byNodePort };
}

/**
 * Delete the node's stale UDP entries; returns the original tuples of the entries deleted (the
 * flows a userspace relay standing for them must end too).
 */
export function cleanStaleUdpEntries(
  snap: ClusterSnapshot,
  nodeName: string,
  node: KernelNode,
  family: Family,
  now: number,
): Tuple[] {
  const udp = node.conntrack
    .entries(now)
    .filter((e) => e.original.proto === 'udp' && e.original.family === family);
  if (udp.length === 0) return []; // the common case: nothing to look up service ports for
  const f = udpFrontends(snap, nodeName, family);
  // Every entry one of kube-proxy's filters would catch is itself stale by the same test, so
  // deleting the stale entries one by one deletes exactly what the filters would.
  const deleted: Tuple[] = [];
  for (const e of udp) {
    const o = e.original;
    const replySrc = e.reply.src.text;
    const atAddress = f.byAddress.get(`${o.dst.text}|${o.dport}`);
    const atNodePort = f.byNodePort.get(o.dport);
    if ((atAddress && !atAddress.has(replySrc)) || (atNodePort && !atNodePort.has(replySrc))) deleted.push(o);
  }
  for (const o of deleted) node.conntrack.deleteTuple(o, now);
  return deleted;
}
