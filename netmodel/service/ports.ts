/**
 * The per-node "service port view": what a service proxy on one node sees of each service port, in
 * kube-proxy's terms (its ServicePort and Endpoint infos). Every proxy mode starts from these and from
 * `categorizeEndpoints`; none re-derives eligibility from the raw objects.
 *
 * Facts followed (kube-proxy pkg/proxy service.go, endpointslicecache.go, ~v1.31):
 * - headless and ExternalName services are skipped; one view per (service, port) for the proxier's
 *   family, with the ClusterIP of that family (no ClusterIP of the family: no view);
 * - externalIPs, load-balancer ingress IPs and source ranges are filtered to the family;
 * - endpoints come from the service's EndpointSlices of the family whose port has the same name and
 *   protocol as the service port (port 0 ignored); only the first address of an endpoint is used;
 * - duplicates (same `ip:port`) collapse to one, preferring a non-terminating copy (1.31+ behaviour;
 *   older releases preferred the local copy);
 * - endpoints are sorted by their `ip:port` string, byte-wise, so 10.1.1.11:11 sorts before 10.1.1.1:11.
 */
import type { Family, IP, Prefix } from '../addr.js';
import { joinHostPort } from '../addr.js';
import type { EndpointSlice, Protocol, Service } from '../cluster/objects.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';

export interface EndpointView {
  readonly ip: IP;
  readonly port: number;
  /** `ip:port` (`[v6]:port`), kube-proxy's Endpoint.String(). */
  readonly text: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly nodeName: string | null;
  readonly zone: string | null;
  /** nodeName equals the viewing node. */
  readonly isLocal: boolean;
}

export interface ServicePortView {
  readonly service: Service;
  /** `namespace/name`. */
  readonly serviceKey: string;
  /** kube-proxy's ServicePortName.String(): `ns/name:port`, or `ns/name` for an unnamed port. */
  readonly name: string;
  readonly portName: string;
  readonly protocol: Protocol;
  readonly family: Family;
  readonly clusterIP: IP;
  readonly port: number;
  /** 0 when the port has none. */
  readonly nodePort: number;
  readonly externalIPs: readonly IP[];
  readonly loadBalancerVIPs: readonly IP[];
  readonly loadBalancerSourceRanges: readonly Prefix[];
  /** 0 unless type LoadBalancer with externalTrafficPolicy Local (kube-proxy's NeedsHealthCheck). */
  readonly healthCheckNodePort: number;
  /** ClientIP affinity timeout in seconds, or null for no affinity. */
  readonly affinitySeconds: number | null;
  readonly internalPolicyLocal: boolean;
  readonly externalPolicyLocal: boolean;
  /** Has a node port, load-balancer IPs or external IPs. */
  readonly externallyAccessible: boolean;
  readonly usesClusterEndpoints: boolean;
  readonly usesLocalEndpoints: boolean;
  /** De-duplicated and sorted by `text`. */
  readonly endpoints: readonly EndpointView[];
}

function ofFamily<T extends { family: Family }>(xs: readonly T[], f: Family): T[] {
  return xs.filter((x) => x.family === f);
}

const byText = (a: EndpointView, b: EndpointView) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0);

function endpointsFor(
  slices: readonly EndpointSlice[],
  portName: string,
  protocol: Protocol,
  family: Family,
  nodeName: string,
): EndpointView[] {
  const views: EndpointView[] = [];
  const addressType = family === 4 ? 'IPv4' : 'IPv6';
  for (const slice of slices) {
    if (slice.addressType !== addressType) continue;
    for (const p of slice.ports) {
      if (p.name !== portName || p.protocol !== protocol || p.port === 0) continue;
      for (const e of slice.endpoints) {
        const ip = e.addresses[0];
        if (!ip || ip.family !== family) continue;
        const nodeOf = e.nodeName ?? null;
        views.push({
          ip,
          port: p.port,
          text: joinHostPort(ip, p.port),
          ready: e.conditions.ready,
          serving: e.conditions.serving,
          terminating: e.conditions.terminating,
          nodeName: nodeOf,
          zone: e.zone ?? null,
          isLocal: nodeName !== '' && nodeOf === nodeName,
        });
      }
    }
  }
  // Sorted by text; the sort is stable, so copies of one `ip:port` stay in the order they were seen.
  let sorted = true;
  for (let i = 1; i < views.length && sorted; i++) sorted = byText(views[i - 1]!, views[i]!) <= 0;
  if (!sorted) views.sort(byText);
  // Collapse copies: the first one seen, replaced by every later one that is not terminating.
  let n = 0;
  for (let i = 0; i < views.length; i++) {
    const v = views[i]!;
    if (n > 0 && views[n - 1]!.text === v.text) {
      if (!v.terminating) views[n - 1] = v;
    } else views[n++] = v;
  }
  views.length = n;
  return views;
}

/** The view of one service's ports from `nodeName`, for one family; [] when the proxier skips it. */
export function servicePortViewsOf(
  snapshot: ClusterSnapshot,
  svc: Service,
  nodeName: string,
  family: Family = 4,
): ServicePortView[] {
  if (svc.headless || svc.type === 'ExternalName') return [];
  const clusterIP = svc.clusterIPs.find((ip) => ip.family === family);
  if (!clusterIP) return [];
  const serviceKey = `${svc.meta.namespace}/${svc.meta.name}`;
  const slices = snapshot.slicesFor(svc);
  const externalIPs = ofFamily(svc.externalIPs, family);
  const loadBalancerVIPs = ofFamily(svc.loadBalancerIngress, family);
  const loadBalancerSourceRanges = svc.loadBalancerSourceRanges.filter((p) => p.ip.family === family);
  const externalTypes =
    svc.type === 'NodePort' ||
    svc.type === 'LoadBalancer' ||
    (svc.type === 'ClusterIP' && svc.externalIPs.length > 0);
  const externalPolicyLocal = externalTypes && svc.externalTrafficPolicy === 'Local';
  const internalPolicyLocal = svc.internalTrafficPolicy === 'Local';
  const needsHealthCheck = svc.type === 'LoadBalancer' && svc.externalTrafficPolicy === 'Local';
  return svc.ports.map((p) => {
    const nodePort = p.nodePort ?? 0;
    const externallyAccessible = nodePort !== 0 || loadBalancerVIPs.length > 0 || externalIPs.length > 0;
    return {
      service: svc,
      serviceKey,
      name: p.name ? `${serviceKey}:${p.name}` : serviceKey,
      portName: p.name,
      protocol: p.protocol,
      family,
      clusterIP,
      port: p.port,
      nodePort,
      externalIPs,
      loadBalancerVIPs,
      loadBalancerSourceRanges,
      healthCheckNodePort: needsHealthCheck ? (svc.healthCheckNodePort ?? 0) : 0,
      affinitySeconds: svc.sessionAffinity === 'ClientIP' ? svc.affinityTimeoutSeconds : null,
      internalPolicyLocal,
      externalPolicyLocal,
      externallyAccessible,
      usesClusterEndpoints: !internalPolicyLocal || (externallyAccessible && !externalPolicyLocal),
      usesLocalEndpoints: internalPolicyLocal || (externallyAccessible && externalPolicyLocal),
      endpoints: endpointsFor(slices, p.name, p.protocol, family, nodeName),
    };
  });
}

/**
 * Every service port the proxier on `nodeName` handles, for one family, sorted by port name string then
 * protocol (kube-proxy walks a Go map, so its order is random; sorting keeps output deterministic).
 */
export function servicePortViews(
  snapshot: ClusterSnapshot,
  nodeName: string,
  family: Family = 4,
): ServicePortView[] {
  const out: ServicePortView[] = [];
  for (const svc of snapshot.services) out.push(...servicePortViewsOf(snapshot, svc, nodeName, family));
  return out.sort((a, b) =>
    a.name < b.name
      ? -1
      : a.name > b.name
        ? 1
        : a.protocol < b.protocol
          ? -1
          : a.protocol > b.protocol
            ? 1
            : 0,
  );
}
