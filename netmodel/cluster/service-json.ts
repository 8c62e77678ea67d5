/**
 * The parts of a v1 Service's JSON that `kpath get -o yaml|json` (cli/format/k8s.ts) and the API
 * server (proxy/api/render.ts) write the same way: each port as the apiserver returns it (optional
 * fields only when set), and the status with its load-balancer ingress.
 */
import type { Service, ServicePort } from './objects.js';

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
