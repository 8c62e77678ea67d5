/**
 * EndpointSlices derived from selectors, as the endpoint-slice controller writes them
 * (pkg/controller/endpointslice): one endpoint per pod with an address of the slice's family,
 * ready = publishNotReadyAddresses || (pod Ready && !terminating), serving = pod Ready,
 * terminating = deletionTimestamp set; hostname only when the pod's subdomain names the service;
 * ports resolved per pod (a named targetPort is looked up in the pod's container ports with the
 * same protocol; a pod without it gets no endpoint for that port); endpoints grouped into slices by
 * address type and resolved port set, at most 100 per slice.
 */
import type { Family, IP } from '../addr.js';
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from './decode-endpoints.js';
import { randomSuffix, uidFor } from './hash.js';
import type { Endpoint, EndpointPort, EndpointSlice, Node, Pod, Service, ServicePort } from './objects.js';
import { matchesSelector, selectorFromMap } from './selector.js';

export const MAX_ENDPOINTS_PER_SLICE = 100;
export const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** podutil.FindPort: the container port a service port's targetPort names on this pod. */
export function resolveTargetPort(pod: Pod, sp: ServicePort): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  for (const c of pod.containers) {
    for (const p of c.ports)
      if (p.name === sp.targetPort && p.protocol === sp.protocol) return p.containerPort;
  }
  return undefined;
}

/** Does the endpoint-slice controller include this pod at all? */
export function podIsEndpointCandidate(pod: Pod): boolean {
  if (pod.podIPs.length === 0 || !pod.nodeName) return false;
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return false;
  return true;
}

export function deriveEndpointSlices(
  svc: Service,
  pods: readonly Pod[],
  nodes: readonly Node[],
): EndpointSlice[] {
  if (!svc.selector || svc.type === 'ExternalName') return [];
  const sel = selectorFromMap(svc.selector);
  const zoneOf = new Map(nodes.map((n) => [n.meta.name, n.meta.labels[ZONE_LABEL]]));
  const families: Family[] = svc.ipFamilies.length ? [...svc.ipFamilies] : [4];
  const groups = new Map<string, { family: Family; ports: EndpointPort[]; endpoints: Endpoint[] }>();
  const selected = pods
    .filter(
      (p) =>
        p.meta.namespace === svc.meta.namespace &&
        matchesSelector(sel, p.meta.labels) &&
        podIsEndpointCandidate(p),
    )
    .sort((a, b) => (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0));
  for (const pod of selected) {
    const ports: EndpointPort[] = [];
    for (const sp of svc.ports) {
      const n = resolveTargetPort(pod, sp);
      if (n === undefined) continue;
      ports.push({
        name: sp.name,
        protocol: sp.protocol,
        port: n,
        ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}),
      });
    }
    if (svc.ports.length > 0 && ports.length === 0) continue;
    const serving = pod.ready;
    const terminating = pod.terminating;
    const ready = svc.publishNotReadyAddresses || (serving && !terminating);
    const setHostname = pod.hostname !== undefined && pod.subdomain === svc.meta.name;
    const zone = pod.nodeName ? zoneOf.get(pod.nodeName) : undefined;
    for (const fam of families) {
      const ip: IP | undefined = pod.podIPs.find((x) => x.family === fam);
      if (!ip) continue;
      const key = `${fam}|${ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',')}`;
      const g = groups.get(key) ?? { family: fam, ports, endpoints: [] };
      g.endpoints.push({
        addresses: [ip],
        conditions: { ready, serving, terminating },
        ...(setHostname ? { hostname: pod.hostname! } : {}),
        ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
        ...(zone ? { zone } : {}),
        targetRef: { kind: 'Pod', namespace: pod.meta.namespace, name: pod.meta.name, uid: pod.meta.uid },
      });
      groups.set(key, g);
    }
  }
  // A service with no matching pods still gets one empty slice per family (the controller keeps one).
  if (groups.size === 0) {
    for (const fam of families) groups.set(`${fam}|`, { family: fam, ports: [], endpoints: [] });
  }
  const slices: EndpointSlice[] = [];
  const keys = [...groups.keys()].sort();
  for (const key of keys) {
    const g = groups.get(key)!;
    for (let off = 0; off === 0 || off < g.endpoints.length; off += MAX_ENDPOINTS_PER_SLICE) {
      const chunk = g.endpoints.slice(off, off + MAX_ENDPOINTS_PER_SLICE);
      const prefix = svc.meta.name.length > 57 ? svc.meta.name.slice(0, 57) : svc.meta.name;
      const name = `${prefix}-${randomSuffix(`${svc.meta.namespace}/${svc.meta.name}|${key}|${off}`)}`;
      const labels: Record<string, string> = {
        ...svc.meta.labels,
        [SERVICE_NAME_LABEL]: svc.meta.name,
        [MANAGED_BY_LABEL]: 'endpointslice-controller.k8s.io',
      };
      if (svc.headless) labels['service.kubernetes.io/headless'] = '';
      slices.push({
        kind: 'EndpointSlice',
        meta: {
          name,
          namespace: svc.meta.namespace,
          labels,
          annotations: {},
          uid: uidFor(`EndpointSlice/${svc.meta.namespace}/${name}`),
          ownerReferences: [{ kind: 'Service', name: svc.meta.name, uid: svc.meta.uid, controller: true }],
        },
        serviceName: svc.meta.name,
        addressType: g.family === 4 ? 'IPv4' : 'IPv6',
        ports: g.ports,
        endpoints: chunk,
        source: 'controller',
        raw: {},
      });
    }
  }
  return slices;
}

/** One address of a core/v1 Endpoints subset, as JSON. */
export interface EndpointsAddressJson {
  readonly ip: string;
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly targetRef?: {
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
  };
}

/** A core/v1 EndpointSubset as JSON. */
export interface EndpointsSubsetJson {
  readonly addresses?: readonly EndpointsAddressJson[];
  readonly notReadyAddresses?: readonly EndpointsAddressJson[];
  readonly ports: readonly { readonly name?: string; readonly port: number; readonly protocol: string }[];
}

/**
 * The subsets of a service's core/v1 Endpoints, as the endpoints controller
 * (pkg/controller/endpoint/endpoints_controller.go) writes them, from the same endpoints as the
 * service's EndpointSlices: one subset per set of resolved ports. A terminating pod is left out
 * unless the service sets publishNotReadyAddresses (ShouldPodBeInEndpoints with includeTerminating
 * = publishNotReadyAddresses). addEndpointSubset puts an address in `addresses` when the service
 * tolerates unready endpoints (publishNotReadyAddresses) or the pod is ready, else in
 * `notReadyAddresses`: with publishNotReadyAddresses every address is in `addresses`.
 */
export function deriveEndpointsSubsets(
  svc: Service,
  slices: readonly EndpointSlice[],
): EndpointsSubsetJson[] {
  const tolerateUnready = svc.publishNotReadyAddresses;
  const subsets = new Map<
    string,
    {
      addresses: EndpointsAddressJson[];
      notReadyAddresses: EndpointsAddressJson[];
      ports: EndpointsSubsetJson['ports'];
    }
  >();
  for (const sl of slices) {
    if (sl.addressType === 'FQDN') continue;
    const key = sl.ports.map((p) => `${p.name}/${p.protocol}/${p.port}`).join(',');
    const sub = subsets.get(key) ?? {
      addresses: [],
      notReadyAddresses: [],
      ports: sl.ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        port: p.port,
        protocol: p.protocol,
      })),
    };
    for (const e of sl.endpoints) {
      if (e.conditions.terminating && !tolerateUnready) continue;
      for (const a of e.addresses) {
        const addr: EndpointsAddressJson = {
          ip: a.text,
          ...(e.hostname ? { hostname: e.hostname } : {}),
          ...(e.nodeName ? { nodeName: e.nodeName } : {}),
          ...(e.targetRef ? { targetRef: { ...e.targetRef } } : {}),
        };
        (tolerateUnready || e.conditions.ready ? sub.addresses : sub.notReadyAddresses).push(addr);
      }
    }
    subsets.set(key, sub);
  }
  return [...subsets.values()]
    .filter((s) => s.addresses.length + s.notReadyAddresses.length > 0)
    .map((s) => ({
      ...(s.addresses.length ? { addresses: s.addresses } : {}),
      ...(s.notReadyAddresses.length ? { notReadyAddresses: s.notReadyAddresses } : {}),
      ports: s.ports,
    }));
}

/** A discovery/v1 EndpointSlice's body (all but apiVersion, kind and metadata), as JSON. */
export function endpointSliceBodyJson(s: EndpointSlice): Record<string, unknown> {
  return {
    addressType: s.addressType,
    endpoints: s.endpoints.map((e) => ({
      addresses: e.addresses.map((a) => a.text),
      conditions: { ...e.conditions },
      ...(e.hostname ? { hostname: e.hostname } : {}),
      ...(e.nodeName ? { nodeName: e.nodeName } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
      ...(e.targetRef ? { targetRef: { ...e.targetRef } } : {}),
    })),
    ports: s.ports.map((p) => ({
      name: p.name,
      protocol: p.protocol,
      port: p.port,
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    })),
  };
}
