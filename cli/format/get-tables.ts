/**
 * `kpath get` columns, as kubectl's printers define them (kubernetes pkg/printers/internalversion):
 * for each resource the default headers, the extra `-o wide` headers, and one row per object. The
 * NAMESPACE column, TYPE/NAME names and LABELS are added by the caller, as kubectl's printer adds them.
 */
import {
  type ClusterSnapshot,
  type EndpointSlice,
  formatSelector,
  type Namespace,
  type NetworkPolicy,
  type Node,
  type Pod,
  type Service,
} from '../../netmodel/cluster/index.js';
import { readyCount, templateContainers, type WorkloadView } from './workloads.js';

/** A resource's columns: NAME first; `wide` ones follow the default ones. */
export interface Columns<T> {
  readonly headers: readonly string[];
  readonly wide: readonly string[];
  /** All cells (default then wide); the caller drops the wide ones when not asked for. */
  row(x: T, snap: ClusterSnapshot, ctx?: RowContext): string[];
}

/** What a table may show besides the model: a running kpath up's view of its pods, by `ns/name`. */
export interface RowContext {
  readonly live?: ReadonlyMap<string, LivePod>;
}

/** What a running kpath up says about one pod (its admin API's /api/v1/pods). */
export interface LivePod {
  readonly node?: string;
  readonly podIP?: string;
  readonly ready: boolean;
  readonly containers: readonly { state: string; ready: boolean; restarts: number; lastExit?: string }[];
}

/** READY, STATUS and RESTARTS as kubectl prints them for a running pod. */
export function liveCells(l: LivePod): [string, string, string] {
  const ready = l.containers.filter((c) => c.ready).length;
  const restarts = l.containers.reduce((n, c) => n + c.restarts, 0);
  const waiting = l.containers.find((c) => c.state === 'waiting');
  const terminated = l.containers.find((c) => c.state === 'terminated');
  const status = waiting
    ? waiting.restarts > 0 || waiting.lastExit
      ? 'CrashLoopBackOff'
      : 'ContainerCreating'
    : terminated
      ? terminated.lastExit === 'exit code 0'
        ? 'Completed'
        : 'Error'
      : 'Running';
  return [`${ready}/${l.containers.length}`, status, String(restarts)];
}

export const AGE = '<unknown>';

/** labels.FormatLabels: `k=v` pairs sorted by key, or `<none>`. */
export function formatLabels(m: Readonly<Record<string, string>>): string {
  return joinOr(
    Object.keys(m)
      .sort()
      .map((k) => `${k}=${m[k]}`),
  );
}

function joinOr(items: readonly string[], none = '<none>'): string {
  return items.length ? items.join(',') : none;
}

export const podColumns: Columns<Pod> = {
  headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
  wide: ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
  row: (p, _snap, ctx) => {
    const total = p.containers.length;
    const ready = p.ready && p.phase === 'Running' ? total : 0;
    const status = p.terminating ? 'Terminating' : p.phase;
    const live = ctx?.live?.get(`${p.meta.namespace}/${p.meta.name}`);
    const [readyCell, statusCell, restartsCell] = live ? liveCells(live) : [`${ready}/${total}`, status, '0'];
    return [
      p.meta.name,
      readyCell,
      statusCell,
      restartsCell,
      AGE,
      live?.podIP || p.podIPs[0]?.text || '<none>',
      live?.node || p.nodeName || '<none>',
      '<none>',
      '<none>',
    ];
  },
};

export function formatServicePorts(s: Service): string {
  if (s.ports.length === 0) return '<none>';
  return s.ports
    .map((p) => (p.nodePort !== null ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`))
    .join(',');
}

export function externalIPCell(s: Service): string {
  switch (s.type) {
    case 'ExternalName':
      return s.externalName ?? '<none>';
    case 'LoadBalancer': {
      const ips = [...s.loadBalancerIngress, ...s.externalIPs].map((ip) => ip.text);
      return ips.length ? ips.join(',') : '<pending>';
    }
    default:
      return joinOr(s.externalIPs.map((ip) => ip.text));
  }
}

export const serviceColumns: Columns<Service> = {
  headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
  wide: ['SELECTOR'],
  row: (s) => [
    s.meta.name,
    s.type,
    s.type === 'ExternalName' ? '<none>' : s.headless ? 'None' : s.clusterIPs.map((ip) => ip.text).join(','),
    externalIPCell(s),
    formatServicePorts(s),
    AGE,
    s.selector ? formatLabels(s.selector) : '<none>',
  ],
};

/** kubectl's list-with-overflow cell: up to three items, then ` + N more...`. */
function moreSuffix(items: string[], max = 3): string {
  if (items.length === 0) return '<none>';
  if (items.length <= max) return items.join(',');
  return `${items.slice(0, max).join(',')} + ${items.length - max} more...`;
}

/** kubectl's ENDPOINTS cell for core/v1 Endpoints: ready addresses x ports. */
export function endpointsCell(slices: readonly EndpointSlice[]): string {
  const items: string[] = [];
  for (const sl of slices) {
    // Ports outer, addresses inner, as kubectl's formatEndpoints walks a subset.
    const ready = sl.endpoints.filter((e) => e.conditions.ready).flatMap((e) => e.addresses);
    if (sl.ports.length === 0) items.push(...ready.map((a) => a.text));
    for (const p of sl.ports)
      for (const a of ready) items.push(a.family === 6 ? `[${a.text}]:${p.port}` : `${a.text}:${p.port}`);
  }
  return moreSuffix(items);
}

/** core/v1 Endpoints, one per Service (the object is the Service it mirrors). */
export const endpointsColumns: Columns<Service> = {
  headers: ['NAME', 'ENDPOINTS', 'AGE'],
  wide: [],
  row: (s, snap) => [s.meta.name, endpointsCell(snap.slicesFor(s)), AGE],
};

export const sliceColumns: Columns<EndpointSlice> = {
  headers: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
  wide: [],
  row: (s) => [
    s.meta.name,
    s.addressType,
    s.ports.length ? s.ports.map((p) => String(p.port)).join(',') : '<unset>',
    moreSuffix(s.endpoints.flatMap((e) => e.addresses.map((a) => a.text))),
    AGE,
  ],
};

export const nodeColumns: Columns<Node> = {
  headers: ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'],
  wide: ['INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME'],
  row: (n) => {
    const roles = Object.keys(n.meta.labels)
      .filter((k) => k.startsWith('node-role.kubernetes.io/'))
      .map((k) => k.slice('node-role.kubernetes.io/'.length))
      .sort();
    const info = ((n.raw.status as Record<string, unknown> | undefined)?.nodeInfo ?? {}) as Record<
      string,
      string | undefined
    >;
    return [
      n.meta.name,
      `${n.ready ? 'Ready' : 'NotReady'}${n.unschedulable ? ',SchedulingDisabled' : ''}`,
      joinOr(roles),
      AGE,
      info.kubeletVersion || '<none>',
      joinOr(n.internalIPs.map((ip) => ip.text)),
      joinOr(n.addresses.filter((a) => a.type === 'ExternalIP').map((a) => a.address)),
      info.osImage || '<unknown>',
      info.kernelVersion || '<unknown>',
      info.containerRuntimeVersion || '<unknown>',
    ];
  },
};

export const namespaceColumns: Columns<Namespace> = {
  headers: ['NAME', 'STATUS', 'AGE'],
  wide: [],
  row: (n) => [n.meta.name, 'Active', AGE],
};

/** NAME, POD-SELECTOR, AGE (kubectl's printer for networking/v1 NetworkPolicy). */
export const networkPolicyColumns: Columns<NetworkPolicy> = {
  headers: ['NAME', 'POD-SELECTOR', 'AGE'],
  wide: [],
  row: (p) => [p.meta.name, formatSelector(p.podSelector), AGE],
};

function containerCells(w: WorkloadView): [string, string] {
  const cs = templateContainers(w);
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')];
}

export const deploymentColumns: Columns<WorkloadView> = {
  headers: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
  wide: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  row: (w) => {
    const ready = readyCount(w.pods);
    return [
      w.meta.name,
      `${ready}/${w.replicas}`,
      String(w.pods.length),
      String(ready),
      AGE,
      ...containerCells(w),
      formatSelector(w.selector),
    ];
  },
};

export const replicaSetColumns: Columns<WorkloadView> = {
  headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
  wide: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  row: (w) => [
    w.meta.name,
    String(w.replicas),
    String(w.pods.length),
    String(readyCount(w.pods)),
    AGE,
    ...containerCells(w),
    formatSelector(w.selector),
  ],
};

export const statefulSetColumns: Columns<WorkloadView> = {
  headers: ['NAME', 'READY', 'AGE'],
  wide: ['CONTAINERS', 'IMAGES'],
  row: (w) => [w.meta.name, `${readyCount(w.pods)}/${w.replicas}`, AGE, ...containerCells(w)],
};

export const daemonSetColumns: Columns<WorkloadView> = {
  headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'NODE SELECTOR', 'AGE'],
  wide: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
  row: (w) => {
    const n = String(w.pods.length);
    const ready = String(readyCount(w.pods));
    const nodeSelector =
      ((w.template.spec ?? {}) as { nodeSelector?: Record<string, string> }).nodeSelector ?? {};
    return [
      w.meta.name,
      n,
      n,
      ready,
      n,
      ready,
      formatLabels(nodeSelector),
      AGE,
      ...containerCells(w),
      formatSelector(w.selector),
    ];
  },
};
