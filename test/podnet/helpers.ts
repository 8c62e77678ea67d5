/** Building and walking the emulated pod network in tests: a world with kube-proxy's rules, and one traced packet. */
import { buildHostNetwork, type HostNetwork } from '../../cni/index.js';
import { parseIP } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import type { Frame } from '../../netmodel/devices/index.js';
import { podNsName, receive, send, type Travel, travel } from '../../netmodel/kernel/index.js';
import { type Packet, packet } from '../../netmodel/packet.js';
import type { Rng } from '../../netmodel/rng.js';
import { SeededRng } from '../../netmodel/rng.js';
import { applyFullSync, renderNode } from '../../proxy/iptables/index.js';
import { pod } from '../helpers/cluster.js';

export const PLUGINS = [
  { name: 'bridge', network: undefined },
  { name: 'flannel vxlan', network: { plugin: 'flannel', backend: 'vxlan' } },
  { name: 'flannel host-gw', network: { plugin: 'flannel', backend: 'host-gw' } },
  { name: 'calico bgp', network: { plugin: 'calico' } },
  { name: 'calico vxlan', network: { plugin: 'calico', backend: 'vxlan' } },
] as const;

/** A running pod with a fixed IP on a node. */
export function fixedPod(name: string, nodeName: string, ip: string, namespace = 'ns') {
  return pod(name, { namespace, nodeName, status: { phase: 'Running', podIP: ip } });
}

/** Every node's and pod's namespace, with kube-proxy's rules on the nodes. */
export function world(snap: ClusterSnapshot): HostNetwork {
  const net = buildHostNetwork(snap);
  for (const [name, k] of net.nodes) applyFullSync(k, renderNode(snap, name));
  return net;
}

/** Where a source starts: its pod namespace, a node (its own address), or arriving on a node's uplink. */
export function start(
  net: HostNetwork,
  _snap: ClusterSnapshot,
  entryNode: string,
  p: Packet,
  rng: Rng = new SeededRng(1),
): Travel {
  const env = { now: 0, rng, trace: true };
  const owner = net.podByAddress(p.src);
  if (owner && owner.nodeName === entryNode) {
    const ns = podNsName(owner.meta.namespace, owner.meta.name);
    return travel(net, ns, send(net.ns(ns)!, p, env), env);
  }
  const k = net.nodes.get(entryNode)!;
  if (k.isLocal(p.src) || p.src.text.startsWith('127.')) return travel(net, entryNode, send(k, p, env), env);
  return travel(net, entryNode, receive(k, p, net.ingressFor(entryNode, p.src), env), env);
}

export function tcp(
  src: string,
  dst: string,
  dport: number,
  extra: Partial<Parameters<typeof packet>[0]> = {},
): Packet {
  return packet({ proto: 'tcp', src: parseIP(src), dst: parseIP(dst), sport: 40000, dport, ...extra });
}

export function icmpEcho(src: string, dst: string, payload = 56, df = false): Packet {
  return packet({
    proto: 'icmp',
    src: parseIP(src),
    dst: parseIP(dst),
    icmp: { type: 8, code: 0, id: 7, seq: 1 },
    length: 28 + payload,
    df,
  });
}

/** The frames of a travel, as `interface dir` strings and frames. */
export function frames(t: Travel): { at: string; frame: Frame }[] {
  const out: { at: string; frame: Frame }[] = [];
  for (const s of t.steps)
    if (s.kind === 'wire') out.push({ at: `${s.ns}/${s.dev} ${s.dir}`, frame: s.frame });
  return out;
}
