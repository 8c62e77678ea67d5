/**
 * Every endpoint of a service port with its conditions and pod, for listings (`kpath endpoints`) and
 * the "endpoints changed" log. Which endpoints take traffic is decided by netmodel/service's
 * categorizeEndpoints, the one eligibility function every proxy mode calls.
 */
import type { IP } from '../../netmodel/addr.js';
import type { ClusterSnapshot, Service, ServicePort } from '../../netmodel/cluster/index.js';

export interface EligibleEndpoint {
  readonly ip: IP;
  readonly port: number;
  /** `ip:port`, the key the balancer and the logs use. */
  readonly key: string;
  readonly nodeName?: string;
  /** `namespace/name` of the pod behind it, when known. */
  readonly pod?: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

/** Every endpoint of the port (IPv4, de-duplicated), eligible or not: what `kpath endpoints` shows. */
export function allEndpoints(snap: ClusterSnapshot, svc: Service, sp: ServicePort): EligibleEndpoint[] {
  const seen = new Map<string, EligibleEndpoint>();
  for (const slice of snap.slicesFor(svc)) {
    if (slice.addressType !== 'IPv4') continue;
    const port = slice.ports.find((p) => p.name === sp.name && p.protocol === sp.protocol);
    if (!port) continue;
    for (const ep of slice.endpoints) {
      const ip = ep.addresses[0];
      if (!ip) continue;
      const key = `${ip.text}:${port.port}`;
      if (seen.has(key)) continue;
      seen.set(key, {
        ip,
        port: port.port,
        key,
        ...(ep.nodeName ? { nodeName: ep.nodeName } : {}),
        ...(ep.targetRef?.kind === 'Pod' ? { pod: `${ep.targetRef.namespace}/${ep.targetRef.name}` } : {}),
        ready: ep.conditions.ready,
        serving: ep.conditions.serving,
        terminating: ep.conditions.terminating,
      });
    }
  }
  return [...seen.values()];
}
