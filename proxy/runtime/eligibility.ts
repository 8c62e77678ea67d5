/**
 * Which endpoints of a service port may take traffic.
 *
 * TEMPORARY ADAPTER — TO BE REPLACED by the single CategorizeEndpoints-like function that is being
 * written in netmodel/service/. Until it lands, this is the minimum kube-proxy rule: the ready
 * endpoints; if there are none, the endpoints that are serving and terminating. Topology hints and
 * traffic policies are not applied here (the userspace proxier never applied them either).
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

/** The endpoints traffic may go to: ready ones, else serving-and-terminating ones. */
export function eligibleEndpoints(snap: ClusterSnapshot, svc: Service, sp: ServicePort): EligibleEndpoint[] {
  const all = allEndpoints(snap, svc, sp);
  const ready = all.filter((e) => e.ready);
  return ready.length ? ready : all.filter((e) => e.serving && e.terminating);
}
