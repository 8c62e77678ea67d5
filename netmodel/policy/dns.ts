/**
 * Can a pod's DNS queries reach kube-dns under NetworkPolicy? The resolver sends UDP to the kube-dns
 * cluster IP; the node DNATs it to one of the service's ready endpoints, and policy sees the endpoint
 * (egress at the pod, ingress at the DNS pod). The classic trap: a default-deny egress that forgets
 * port 53, after which every lookup times out.
 */
import type { ClusterSnapshot, Pod } from '../cluster/index.js';
import type { PolicyDecision, PolicyEngine } from './engine.js';

export interface DnsPolicyCheck {
  /** `ip:port` of each ready kube-dns UDP endpoint, with the decision for a query to it. */
  readonly endpoints: readonly { readonly endpoint: string; readonly decision: PolicyDecision }[];
  /** Some endpoint is reachable (the kernel's random DNAT may still pick a denied one). */
  readonly anyAllowed: boolean;
  readonly allAllowed: boolean;
}

export function kubeDnsPolicy(
  snap: ClusterSnapshot,
  engine: PolicyEngine,
  pod: Pod,
): DnsPolicyCheck | undefined {
  const svc = snap.service('kube-system', 'kube-dns');
  const src = pod.podIPs[0];
  if (!svc || !src || engine.policyCount === 0) return undefined;
  const sp =
    svc.ports.find((p) => p.protocol === 'UDP' && p.port === 53) ??
    svc.ports.find((p) => p.protocol === 'UDP');
  if (!sp) return undefined;
  const endpoints: { endpoint: string; decision: PolicyDecision }[] = [];
  for (const slice of snap.slicesFor(svc)) {
    const port = slice.ports.find((p) => p.name === sp.name && p.protocol === 'UDP');
    if (!port) continue;
    for (const e of slice.endpoints) {
      if (!e.conditions.ready) continue;
      const ip = e.addresses.find((a) => a.family === src.family);
      if (!ip) continue;
      endpoints.push({
        endpoint: `${ip.text}:${port.port}`,
        decision: engine.check({ src: { ip: src, pod }, dst: { ip }, port: port.port, protocol: 'UDP' }),
      });
    }
  }
  if (endpoints.length === 0) return undefined;
  return {
    endpoints,
    anyAllowed: endpoints.some((e) => e.decision.allowed),
    allAllowed: endpoints.every((e) => e.decision.allowed),
  };
}
