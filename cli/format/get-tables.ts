/** `kpath get` tables with kubectl's columns and cell formats. */
import type { ClusterSnapshot, EndpointSlice, Node, Pod, Service } from '../../netmodel/cluster/index.js';
import { renderTable } from './table.js';

export interface TableOpts {
  readonly wide: boolean;
  readonly allNamespaces: boolean;
  /** Prefix names with the resource (`pod/web-...`), as `kubectl get all` does. */
  readonly kindPrefix?: string;
  /** A running kpath up's view of its pods (`ns/name` -> status), shown instead of the model's. */
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

const AGE = '<unknown>';

function nsCol(opts: TableOpts, ns: string): string[] {
  return opts.allNamespaces ? [ns] : [];
}

function nameOf(opts: TableOpts, name: string): string {
  return opts.kindPrefix ? `${opts.kindPrefix}/${name}` : name;
}

export function podsTable(pods: readonly Pod[], opts: TableOpts): string {
  const headers = [
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'READY',
    'STATUS',
    'RESTARTS',
    'AGE',
  ];
  if (opts.wide) headers.push('IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES');
  const rows = pods.map((p) => {
    const total = p.containers.length;
    const ready = p.ready && p.phase === 'Running' ? total : 0;
    const status = p.terminating ? 'Terminating' : p.phase;
    const live = opts.live?.get(`${p.meta.namespace}/${p.meta.name}`);
    const [readyCell, statusCell, restartsCell] = live ? liveCells(live) : [`${ready}/${total}`, status, '0'];
    const row = [
      ...nsCol(opts, p.meta.namespace),
      nameOf(opts, p.meta.name),
      readyCell,
      statusCell,
      restartsCell,
      AGE,
    ];
    if (opts.wide)
      row.push(
        live?.podIP || p.podIPs[0]?.text || '<none>',
        live?.node || p.nodeName || '<none>',
        '<none>',
        '<none>',
      );
    return row;
  });
  return renderTable(headers, rows);
}

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
      return s.externalIPs.length ? s.externalIPs.map((ip) => ip.text).join(',') : '<none>';
  }
}

export function servicesTable(services: readonly Service[], opts: TableOpts): string {
  const headers = [
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'TYPE',
    'CLUSTER-IP',
    'EXTERNAL-IP',
    'PORT(S)',
    'AGE',
  ];
  if (opts.wide) headers.push('SELECTOR');
  const rows = services.map((s) => {
    const clusterIP =
      s.type === 'ExternalName'
        ? '<none>'
        : s.headless
          ? 'None'
          : s.clusterIPs.map((ip) => ip.text).join(',');
    const row = [
      ...nsCol(opts, s.meta.namespace),
      nameOf(opts, s.meta.name),
      s.type,
      clusterIP,
      externalIPCell(s),
      formatServicePorts(s),
      AGE,
    ];
    if (opts.wide) {
      row.push(
        s.selector
          ? Object.entries(s.selector)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')
          : '<none>',
      );
    }
    return row;
  });
  return renderTable(headers, rows);
}

function moreSuffix(items: string[], max = 3): string {
  if (items.length === 0) return '<none>';
  if (items.length <= max) return items.join(',');
  return `${items.slice(0, max).join(',')} + ${items.length - max} more...`;
}

/** kubectl's ENDPOINTS cell for core/v1 Endpoints: ready addresses x ports. */
export function endpointsCell(svc: Service, slices: readonly EndpointSlice[]): string {
  const items: string[] = [];
  for (const sl of slices) {
    for (const e of sl.endpoints) {
      if (!e.conditions.ready) continue;
      for (const a of e.addresses) {
        if (sl.ports.length === 0) items.push(a.text);
        for (const p of sl.ports)
          items.push(a.family === 6 ? `[${a.text}]:${p.port}` : `${a.text}:${p.port}`);
      }
    }
  }
  void svc;
  return moreSuffix(items);
}

export function endpointsTable(snap: ClusterSnapshot, services: readonly Service[], opts: TableOpts): string {
  const headers = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'ENDPOINTS', 'AGE'];
  const rows = services
    .filter((s) => s.type !== 'ExternalName')
    .map((s) => [
      ...nsCol(opts, s.meta.namespace),
      nameOf(opts, s.meta.name),
      endpointsCell(s, snap.slicesFor(s)),
      AGE,
    ]);
  return renderTable(headers, rows);
}

export function sliceTable(slices: readonly EndpointSlice[], opts: TableOpts): string {
  const headers = [
    ...(opts.allNamespaces ? ['NAMESPACE'] : []),
    'NAME',
    'ADDRESSTYPE',
    'PORTS',
    'ENDPOINTS',
    'AGE',
  ];
  const rows = slices.map((s) => [
    ...nsCol(opts, s.meta.namespace),
    nameOf(opts, s.meta.name),
    s.addressType,
    s.ports.length ? s.ports.map((p) => String(p.port)).join(',') : '<unset>',
    moreSuffix(s.endpoints.flatMap((e) => e.addresses.map((a) => a.text))),
    AGE,
  ]);
  return renderTable(headers, rows);
}

export function nodesTable(nodes: readonly Node[], opts: TableOpts): string {
  const headers = ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'];
  if (opts.wide) headers.push('INTERNAL-IP', 'EXTERNAL-IP', 'POD-CIDR');
  const rows = nodes.map((n) => {
    const roles = Object.keys(n.meta.labels)
      .filter((k) => k.startsWith('node-role.kubernetes.io/'))
      .map((k) => k.slice('node-role.kubernetes.io/'.length))
      .sort();
    const status = `${n.ready ? 'Ready' : 'NotReady'}${n.unschedulable ? ',SchedulingDisabled' : ''}`;
    const info = ((n.raw.status as Record<string, unknown> | undefined)?.nodeInfo ?? {}) as {
      kubeletVersion?: string;
    };
    const row = [
      nameOf(opts, n.meta.name),
      status,
      roles.length ? roles.join(',') : '<none>',
      AGE,
      info.kubeletVersion ?? '<none>',
    ];
    if (opts.wide) {
      const ext = n.addresses.filter((a) => a.type === 'ExternalIP').map((a) => a.address);
      row.push(
        n.internalIPs.map((ip) => ip.text).join(',') || '<none>',
        ext.length ? ext.join(',') : '<none>',
        n.podCIDRs.map((p) => p.text).join(',') || '<none>',
      );
    }
    return row;
  });
  return renderTable(headers, rows);
}
