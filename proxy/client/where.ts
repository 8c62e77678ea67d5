/**
 * Where a request went, in the cluster's terms: the service (or node port, or pod) its destination
 * is, and, from the built-in echo server's JSON reply, the pod that answered, its node and the
 * client address it saw (the proof of SNAT or its absence).
 */
import { prefixNth } from '../../netmodel/addr.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';

export interface Destination {
  /** `service default/web:http (ClusterIP 10.104.2.143:80)`, `node worker-1 port 30080`, ... */
  readonly text: string;
  readonly service?: string;
}

export function describeDestination(snap: ClusterSnapshot, ip: string, port: number): Destination {
  for (const s of snap.services) {
    for (const p of s.ports) {
      const name = `${s.meta.namespace}/${s.meta.name}:${p.name || p.port}`;
      if (p.port === port && s.clusterIPs.some((c) => c.text === ip))
        return { text: `service ${name} (ClusterIP ${ip}:${port})`, service: name };
      if (p.nodePort === port) {
        const node = snap.nodes.find((n) => n.internalIPs.some((a) => a.text === ip));
        if (node)
          return {
            text: `service ${name} (NodePort ${port} on node ${node.meta.name} ${ip})`,
            service: name,
          };
      }
      if (p.port === port && s.externalIPs.some((c) => c.text === ip))
        return { text: `service ${name} (external IP ${ip}:${port})`, service: name };
    }
  }
  const pod = snap.pods.find((p) => p.podIPs.some((a) => a.text === ip));
  if (pod) return { text: `pod ${pod.meta.namespace}/${pod.meta.name} (${ip}:${port}) directly, no service` };
  const node = snap.nodes.find((n) => n.internalIPs.some((a) => a.text === ip));
  if (node) return { text: `node ${node.meta.name} (${ip}:${port})` };
  return { text: `${ip}:${port} (no service, pod or node has this address)` };
}

/** What the built-in echo server reports about a request (proxy/runtime/pods/echo.ts). */
export interface EchoIdentity {
  readonly pod: string;
  readonly namespace: string;
  readonly node: string;
  readonly podIP: string;
  readonly port: number;
  /** The model address:port the pod saw the connection come from. */
  readonly client: string;
}

export function parseEcho(body: string): EchoIdentity | undefined {
  try {
    const j = JSON.parse(body) as Partial<EchoIdentity>;
    if (typeof j.pod === 'string' && typeof j.client === 'string' && typeof j.podIP === 'string')
      return j as EchoIdentity;
  } catch {
    // not the echo server
  }
  return undefined;
}

/** `the pod saw 10.244.1.2:40000 (the client itself, no SNAT)` or `... (SNAT: the node's address)`. */
export function describeSeen(
  seen: string,
  source: { model?: string; node?: string },
  snap: ClusterSnapshot,
): string {
  const ip = seen.replace(/:\d+$/, '');
  if (source.model && ip === source.model) return `${seen} (the client's own address: no SNAT)`;
  const node = snap.nodes.find((n) => n.internalIPs.some((a) => a.text === ip));
  if (node)
    return `${seen} (node ${node.meta.name}'s address: the connection was masqueraded, or came from that node)`;
  const bridge = snap.nodes.find((n) =>
    n.podCIDRs.some((c) => c.ip.family === 4 && prefixNth(c, 1n).text === ip),
  );
  if (bridge)
    return `${seen} (node ${bridge.meta.name}'s cni0 address: masqueraded on the way to a local pod)`;
  return seen;
}
