/**
 * The resources the kpath API serves, as the apiserver's discovery lists them. `model` says how a
 * resource relates to kpath's cluster model:
 *   'model'   objects decoded by netmodel/cluster (writes go through its validation)
 *   'derived' objects kpath derives and nothing writes (ReplicaSets of Deployments, Endpoints)
 *   'stored'  objects kpath keeps and serves but does not model (ConfigMaps)
 *   'empty'   served so kubectl's commands work, always empty (Events)
 */
export interface ResourceInfo {
  /** '' for the core group. */
  readonly group: string;
  readonly version: string;
  readonly name: string;
  readonly singular: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly model: 'model' | 'derived' | 'stored' | 'empty';
  /** Subresources served: scale (autoscaling/v1 Scale) and status. */
  readonly scale?: boolean;
}

const ALL = ['all'];

export const RESOURCES: readonly ResourceInfo[] = [
  r('', 'namespaces', 'Namespace', false, ['ns'], [], 'model'),
  r('', 'nodes', 'Node', false, ['no'], [], 'model'),
  r('', 'pods', 'Pod', true, ['po'], ALL, 'model'),
  r('', 'services', 'Service', true, ['svc'], ALL, 'model'),
  r('', 'endpoints', 'Endpoints', true, ['ep'], [], 'model'),
  r('', 'configmaps', 'ConfigMap', true, ['cm'], [], 'stored'),
  r('', 'events', 'Event', true, ['ev'], [], 'empty'),
  r('apps', 'deployments', 'Deployment', true, ['deploy'], ALL, 'model', true),
  r('apps', 'replicasets', 'ReplicaSet', true, ['rs'], ALL, 'model', true),
  r('apps', 'statefulsets', 'StatefulSet', true, ['sts'], ALL, 'model', true),
  r('apps', 'daemonsets', 'DaemonSet', true, ['ds'], ALL, 'model'),
  r('discovery.k8s.io', 'endpointslices', 'EndpointSlice', true, [], [], 'model'),
  r('networking.k8s.io', 'networkpolicies', 'NetworkPolicy', true, ['netpol'], [], 'model'),
];

function r(
  group: string,
  name: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[],
  categories: string[],
  model: ResourceInfo['model'],
  scale = false,
): ResourceInfo {
  const singular = kind.toLowerCase();
  return { group, version: 'v1', name, singular, kind, namespaced, shortNames, categories, model, scale };
}

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** `apps/deployments`, `pods`: a resource's id in the cache and the state directory. */
export function resourceId(r: { group: string; name: string }): string {
  return r.group ? `${r.group}/${r.name}` : r.name;
}

const BY_PATH = new Map(RESOURCES.map((x) => [`${x.group}/${x.version}/${x.name}`, x]));
const BY_KIND = new Map(RESOURCES.map((x) => [`${apiVersionOf(x)}/${x.kind}`, x]));

export function findResource(group: string, version: string, name: string): ResourceInfo | undefined {
  return BY_PATH.get(`${group}/${version}/${name}`);
}

export function resourceForKind(apiVersion: string, kind: string): ResourceInfo | undefined {
  return BY_KIND.get(`${apiVersion}/${kind}`);
}

/** Group versions in discovery order: the core group first. */
export const GROUPS: readonly { group: string; version: string }[] = [
  { group: 'apps', version: 'v1' },
  { group: 'discovery.k8s.io', version: 'v1' },
  { group: 'networking.k8s.io', version: 'v1' },
];

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function verbsOf(r: ResourceInfo): string[] {
  if (r.model === 'derived' || r.model === 'empty') return ['get', 'list', 'watch'];
  return VERBS;
}
