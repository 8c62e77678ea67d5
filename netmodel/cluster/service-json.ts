/**
 * A v1 Service's spec and status as the apiserver returns them, for `kpath get -o yaml|json`
 * (cli/format/k8s.ts) and the API server (proxy/api/render.ts): what was written plus what the
 * apiserver defaults and allocates; each port with its optional fields only when set; the status
 * with its load-balancer ingress.
 */
import type { Service, ServicePort } from './objects.js';

/**
 * The spec: `raw` (a copy of what was written) with the apiserver's defaults and allocations over
 * it. externalTrafficPolicy is defaulted for externally accessible services only (SetDefaults_Service
 * with service.ExternallyAccessible: NodePort, LoadBalancer, or ClusterIP with externalIPs);
 * `ports` is left out when there are none (omitempty), as for a headless or ExternalName service.
 */
export function serviceSpecJson(
  s: Service,
  raw: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const spec: Record<string, unknown> = { ...(raw ?? {}) };
  spec.type = s.type;
  if (s.type !== 'ExternalName') {
    spec.clusterIP = s.headless ? 'None' : (s.clusterIPs[0]?.text ?? '');
    spec.clusterIPs = s.headless ? ['None'] : s.clusterIPs.map((ip) => ip.text);
    spec.ipFamilies = s.ipFamilies.map((f) => (f === 4 ? 'IPv4' : 'IPv6'));
    spec.ipFamilyPolicy = s.ipFamilyPolicy;
    spec.sessionAffinity = s.sessionAffinity;
    if (s.sessionAffinity === 'ClientIP')
      spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: s.affinityTimeoutSeconds } };
    spec.internalTrafficPolicy = s.internalTrafficPolicy;
  }
  const externallyAccessible =
    s.type === 'NodePort' ||
    s.type === 'LoadBalancer' ||
    (s.type === 'ClusterIP' && s.externalIPs.length > 0);
  if (externallyAccessible) spec.externalTrafficPolicy = s.externalTrafficPolicy;
  if (s.healthCheckNodePort !== null) spec.healthCheckNodePort = s.healthCheckNodePort;
  if (s.ports.length) spec.ports = s.ports.map(servicePortJson);
  else delete spec.ports;
  return spec;
}

export function servicePortJson(p: ServicePort): Record<string, unknown> {
  return {
    ...(p.name ? { name: p.name } : {}),
    protocol: p.protocol,
    port: p.port,
    targetPort: p.targetPort,
    ...(p.nodePort !== null ? { nodePort: p.nodePort } : {}),
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
  };
}

export function serviceStatusJson(s: Service): Record<string, unknown> {
  return {
    loadBalancer: s.loadBalancerIngress.length
      ? { ingress: s.loadBalancerIngress.map((ip) => ({ ip: ip.text, ipMode: 'VIP' })) }
      : {},
  };
}
