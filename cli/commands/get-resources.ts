/**
 * The resources `kpath get` knows, as kubectl's discovery would list them: the plural name, group,
 * short names, scope, how to list them from a snapshot, their kubectl-shaped object and their table
 * columns. Adding a resource is one entry here.
 */
import type { ClusterSnapshot, Meta } from '../../netmodel/cluster/index.js';
import {
  type Columns,
  daemonSetColumns,
  deploymentColumns,
  endpointsColumns,
  namespaceColumns,
  networkPolicyColumns,
  nodeColumns,
  podColumns,
  replicaSetColumns,
  serviceColumns,
  sliceColumns,
  statefulSetColumns,
} from '../format/get-tables.js';
import {
  endpointsToK8s,
  namespaceToK8s,
  networkPolicyToK8s,
  nodeToK8s,
  podToK8s,
  serviceToK8s,
  sliceToK8s,
  workloadToK8s,
} from '../format/k8s.js';
import { workloadsOf } from '../format/workloads.js';

export interface ResourceDef<T extends { meta: Meta } = { meta: Meta }> {
  /** Plural resource name, as in URLs and NotFound errors: `services`. */
  readonly resource: string;
  /** API group; '' for core. */
  readonly group: string;
  readonly kind: string;
  /** Singular and short names kubectl accepts besides the plural. */
  readonly aliases: readonly string[];
  readonly namespaced: boolean;
  list(snap: ClusterSnapshot): readonly T[];
  toK8s(x: T, snap: ClusterSnapshot): Record<string, unknown>;
  readonly columns: Columns<T>;
}

function def<T extends { meta: Meta }>(d: ResourceDef<T>): ResourceDef {
  return d as unknown as ResourceDef;
}

export const RESOURCES: readonly ResourceDef[] = [
  def({
    resource: 'pods',
    group: '',
    kind: 'Pod',
    aliases: ['pod', 'po'],
    namespaced: true,
    list: (s) => s.pods,
    toK8s: podToK8s,
    columns: podColumns,
  }),
  def({
    resource: 'services',
    group: '',
    kind: 'Service',
    aliases: ['service', 'svc'],
    namespaced: true,
    list: (s) => s.services,
    toK8s: (x) => serviceToK8s(x),
    columns: serviceColumns,
  }),
  def({
    resource: 'endpoints',
    group: '',
    kind: 'Endpoints',
    aliases: ['ep'],
    namespaced: true,
    list: (s) => s.services.filter((x) => x.type !== 'ExternalName'),
    toK8s: (x, snap) => endpointsToK8s(x, snap.slicesFor(x)),
    columns: endpointsColumns,
  }),
  def({
    resource: 'endpointslices',
    group: 'discovery.k8s.io',
    kind: 'EndpointSlice',
    aliases: ['endpointslice'],
    namespaced: true,
    list: (s) => s.endpointSlices,
    toK8s: (x) => sliceToK8s(x),
    columns: sliceColumns,
  }),
  def({
    resource: 'nodes',
    group: '',
    kind: 'Node',
    aliases: ['node', 'no'],
    namespaced: false,
    list: (s) => s.nodes,
    toK8s: (x) => nodeToK8s(x),
    columns: nodeColumns,
  }),
  def({
    resource: 'namespaces',
    group: '',
    kind: 'Namespace',
    aliases: ['namespace', 'ns'],
    namespaced: false,
    list: (s) => s.namespaces,
    toK8s: (x) => namespaceToK8s(x),
    columns: namespaceColumns,
  }),
  def({
    resource: 'deployments',
    group: 'apps',
    kind: 'Deployment',
    aliases: ['deployment', 'deploy'],
    namespaced: true,
    list: (s) => workloadsOf(s, 'Deployment'),
    toK8s: (x) => workloadToK8s(x),
    columns: deploymentColumns,
  }),
  def({
    resource: 'replicasets',
    group: 'apps',
    kind: 'ReplicaSet',
    aliases: ['replicaset', 'rs'],
    namespaced: true,
    list: (s) => workloadsOf(s, 'ReplicaSet'),
    toK8s: (x) => workloadToK8s(x),
    columns: replicaSetColumns,
  }),
  def({
    resource: 'statefulsets',
    group: 'apps',
    kind: 'StatefulSet',
    aliases: ['statefulset', 'sts'],
    namespaced: true,
    list: (s) => workloadsOf(s, 'StatefulSet'),
    toK8s: (x) => workloadToK8s(x),
    columns: statefulSetColumns,
  }),
  def({
    resource: 'daemonsets',
    group: 'apps',
    kind: 'DaemonSet',
    aliases: ['daemonset', 'ds'],
    namespaced: true,
    list: (s) => workloadsOf(s, 'DaemonSet'),
    toK8s: (x) => workloadToK8s(x),
    columns: daemonSetColumns,
  }),
  def({
    resource: 'networkpolicies',
    group: 'networking.k8s.io',
    kind: 'NetworkPolicy',
    aliases: ['networkpolicy', 'netpol'],
    namespaced: true,
    list: (s) => s.networkPolicies,
    toK8s: (x) => networkPolicyToK8s(x),
    columns: networkPolicyColumns,
  }),
];

/**
 * What `get all` lists: kubectl's `all` category (pods, services, daemonsets, deployments,
 * replicasets, statefulsets) with the nodes first and the endpoints last, which kpath derived.
 */
export const ALL = [
  'nodes',
  'pods',
  'services',
  'daemonsets',
  'deployments',
  'replicasets',
  'statefulsets',
  'endpoints',
];

/** A resource by any of its names (`svc`, `service`, `services`, `deployments.apps`), or undefined. */
export function findResource(name: string): ResourceDef | undefined {
  const n = name.toLowerCase();
  return RESOURCES.find(
    (r) =>
      r.resource === n ||
      r.aliases.includes(n) ||
      (r.group !== '' && (n === `${r.resource}.${r.group}` || n === `${r.kind.toLowerCase()}.${r.group}`)),
  );
}

/** `services`, `deployments.apps`: how kubectl names the resource in errors. */
export function qualifiedResource(r: ResourceDef): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

/** `service`, `deployment.apps`: the TYPE in TYPE/NAME, as `kubectl get -o name` writes it. */
export function kindPrefix(r: ResourceDef): string {
  return r.group ? `${r.kind.toLowerCase()}.${r.group}` : r.kind.toLowerCase();
}

/** Every name `kpath get` accepts for a type, for help and completion. */
export function resourceNames(): string[] {
  return [...RESOURCES.flatMap((r) => [r.resource, ...r.aliases]), 'all'];
}
