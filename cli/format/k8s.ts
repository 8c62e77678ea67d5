/**
 * Model objects -> kubectl-shaped Kubernetes objects, as written plus what kpath derived (allocated
 * cluster IPs and node ports, scheduled nodes, pod IPs, EndpointSlices).
 */
import {
  type ClusterSnapshot,
  deriveEndpointsSubsets,
  type EndpointSlice,
  endpointSliceBodyJson,
  type Meta,
  type Namespace,
  type NetworkPolicy,
  type Node,
  type Pod,
  type Service,
  serviceSpecJson,
  serviceStatusJson,
} from '../../netmodel/cluster/index.js';
import { type WorkloadView, workloadStatus } from './workloads.js';

type Obj = Record<string, unknown>;

function clone(o: Obj): Obj {
  return structuredClone(o) as Obj;
}

export function metaOut(m: Meta, extra: Obj = {}): Obj {
  const out: Obj = { name: m.name };
  if (m.namespace) out.namespace = m.namespace;
  if (Object.keys(m.labels).length) out.labels = { ...m.labels };
  if (Object.keys(m.annotations).length) out.annotations = { ...m.annotations };
  out.uid = m.uid;
  if (m.ownerReferences?.length) {
    out.ownerReferences = m.ownerReferences.map((o) => ({
      apiVersion: o.kind === 'Service' ? 'v1' : 'apps/v1',
      kind: o.kind,
      name: o.name,
      uid: o.uid,
      controller: o.controller,
      blockOwnerDeletion: true,
    }));
  }
  if (m.deletionTimestamp) out.deletionTimestamp = m.deletionTimestamp;
  if (m.creationTimestamp) out.creationTimestamp = m.creationTimestamp;
  return { ...out, ...extra };
}

export function podToK8s(p: Pod, snap: ClusterSnapshot): Obj {
  const raw = clone(p.raw);
  const spec = { ...((raw.spec as Obj) ?? {}) };
  if (p.nodeName) spec.nodeName = p.nodeName;
  if (p.hostname && !spec.hostname) spec.hostname = p.hostname;
  if (p.subdomain && !spec.subdomain) spec.subdomain = p.subdomain;
  if (p.tolerations.length) spec.tolerations = p.tolerations.map((t) => ({ ...t }));
  const node = p.nodeName ? snap.node(p.nodeName) : undefined;
  const status: Obj = { ...((raw.status as Obj) ?? {}), phase: p.phase };
  status.conditions = [
    { type: 'PodScheduled', status: p.nodeName ? 'True' : 'False' },
    { type: 'Ready', status: p.ready ? 'True' : 'False' },
  ];
  if (node?.internalIPs[0]) status.hostIP = node.internalIPs[0].text;
  if (p.podIPs.length) {
    status.podIP = p.podIPs[0]!.text;
    status.podIPs = p.podIPs.map((ip) => ({ ip: ip.text }));
  }
  return { apiVersion: 'v1', kind: 'Pod', metadata: metaOut(p.meta), spec, status };
}

export function serviceToK8s(s: Service): Obj {
  const raw = clone(s.raw);
  const spec = serviceSpecJson(s, raw.spec as Obj | undefined);
  const status: Obj = serviceStatusJson(s);
  return { apiVersion: 'v1', kind: 'Service', metadata: metaOut(s.meta), spec, status };
}

export function nodeToK8s(n: Node): Obj {
  const raw = clone(n.raw);
  const spec: Obj = { ...((raw.spec as Obj) ?? {}) };
  if (n.podCIDRs.length) {
    spec.podCIDR = n.podCIDRs[0]!.text;
    spec.podCIDRs = n.podCIDRs.map((p) => p.text);
  }
  const status: Obj = { ...((raw.status as Obj) ?? {}) };
  status.addresses = n.addresses.map((a) => ({ ...a }));
  status.conditions = [{ type: 'Ready', status: n.ready ? 'True' : 'False' }];
  return { apiVersion: 'v1', kind: 'Node', metadata: metaOut(n.meta), spec, status };
}

export function sliceToK8s(s: EndpointSlice): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: metaOut(s.meta),
    ...endpointSliceBodyJson(s),
  };
}

/** core/v1 Endpoints as the endpoints controller would write them from the same pods (netmodel/cluster). */
export function endpointsToK8s(svc: Service, slices: readonly EndpointSlice[]): Obj {
  // No subsets: the field is left out (omitempty), as the apiserver serves it.
  const subsets = deriveEndpointsSubsets(svc, slices) as unknown as Obj[];
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: metaOut({ ...svc.meta, ownerReferences: [] }),
    ...(subsets.length ? { subsets } : {}),
  };
}

export function namespaceToK8s(n: Namespace): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: metaOut(n.meta), status: { phase: 'Active' } };
}

export function list(items: Obj[]): Obj {
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

/** A NetworkPolicy as written, with the apiserver's defaults filled (policyTypes, port protocols). */
export function networkPolicyToK8s(p: NetworkPolicy): Obj {
  const raw = clone(p.raw);
  const spec = (raw.spec && typeof raw.spec === 'object' ? raw.spec : {}) as Obj;
  spec.policyTypes = [...p.policyTypes];
  for (const dir of ['ingress', 'egress'] as const) {
    const rules = Array.isArray(spec[dir]) ? (spec[dir] as Obj[]) : [];
    for (const r of rules) {
      const ports = r && Array.isArray(r.ports) ? (r.ports as Obj[]) : [];
      for (const port of ports) if (port && port.protocol === undefined) port.protocol = 'TCP';
    }
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: metaOut(p.meta),
    spec: { podSelector: {}, ...spec },
  };
}

/** A Deployment, ReplicaSet, StatefulSet or DaemonSet as written, with the status its controller would report. */
export function workloadToK8s(w: WorkloadView): Obj {
  const raw = clone(w.raw);
  return {
    apiVersion: 'apps/v1',
    kind: w.kind,
    metadata: metaOut(w.meta),
    spec: (raw.spec as Obj) ?? {},
    status: { observedGeneration: 1, ...workloadStatus(w) },
  };
}
