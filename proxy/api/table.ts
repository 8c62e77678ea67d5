/**
 * The Table format kubectl get asks for (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`):
 * columns and cells as the apiserver's printers write them (pkg/printers/internalversion/printers.go);
 * priority-1 columns are the ones `-o wide` adds. Ages use apimachinery's duration.HumanDuration.
 */
import type { Obj } from './render.js';

export interface Column {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'date';
  readonly format: string;
  readonly description: string;
  readonly priority: number;
}

type Cell = string | number;

interface Printer {
  readonly columns: readonly Column[];
  cells(o: Obj, now: number): Cell[];
}

function col(name: string, type: Column['type'] = 'string', priority = 0, format = ''): Column {
  return { name, type, format, description: descriptions[name] ?? name, priority };
}

const descriptions: Record<string, string> = {
  Name: 'Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  Age: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
};

/** apimachinery's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

const o = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const a = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const n = (v: unknown): number => (typeof v === 'number' ? v : 0);

function age(obj: Obj, now: number): string {
  const t = o(obj.metadata).creationTimestamp;
  if (typeof t !== 'string') return '<unknown>';
  return humanDuration(now - Date.parse(t));
}

function name(obj: Obj): string {
  return String(o(obj.metadata).name ?? '');
}

function labelsString(m: unknown): string {
  const e = Object.entries(o(m));
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '<none>';
}

/** metav1.FormatLabelSelector. */
export function formatLabelSelector(sel: unknown): string {
  const s = o(sel);
  const parts = Object.entries(o(s.matchLabels)).map(([k, v]) => `${k}=${v}`);
  for (const e of a(s.matchExpressions).map(o)) {
    const vals = a(e.values).map(String);
    switch (e.operator) {
      case 'In':
        parts.push(`${e.key} in (${vals.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${e.key} notin (${vals.join(',')})`);
        break;
      case 'Exists':
        parts.push(String(e.key));
        break;
      case 'DoesNotExist':
        parts.push(`!${e.key}`);
        break;
    }
  }
  const out = parts.join(',');
  return out === '' ? '<none>' : out;
}

function containersImages(spec: unknown): [string, string] {
  const cs = a(o(o(o(spec).template).spec).containers).map(o);
  return [cs.map((c) => String(c.name ?? '')).join(','), cs.map((c) => String(c.image ?? '')).join(',')];
}

function podStatusCell(p: Obj): string {
  const meta = o(p.metadata);
  const status = o(p.status);
  let reason = String(status.phase ?? '');
  if (typeof status.reason === 'string') reason = status.reason;
  // As kubectl's printer: a waiting or terminated container's reason replaces the phase.
  for (const cs of a(status.containerStatuses).map(o)) {
    const w = o(o(cs.state).waiting);
    const t = o(o(cs.state).terminated);
    if (typeof w.reason === 'string' && w.reason !== '') reason = w.reason;
    else if (typeof t.reason === 'string' && t.reason !== '') reason = t.reason;
  }
  if (meta.deletionTimestamp) reason = 'Terminating';
  return reason;
}

function endpointsCell(subsets: unknown): string {
  const list: string[] = [];
  let count = 0;
  for (const ss of a(subsets).map(o)) {
    const ports = a(ss.ports).map(o);
    for (const addr of a(ss.addresses).map(o)) {
      if (ports.length === 0) {
        count++;
        if (list.length < 3) list.push(String(addr.ip));
      }
      for (const p of ports) {
        count++;
        if (list.length < 3) list.push(`${addr.ip}:${p.port}`);
      }
    }
  }
  if (count === 0) return '<none>';
  return count > 3 ? `${list.join(',')} + ${count - 3} more...` : list.join(',');
}

function servicePorts(spec: Obj): string {
  const ps = a(spec.ports).map(o);
  if (!ps.length) return '<none>';
  return ps
    .map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol}` : `${p.port}/${p.protocol}`))
    .join(',');
}

function externalIP(spec: Obj, status: Obj): string {
  const ext = a(spec.externalIPs).map(String);
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const ing = a(o(status.loadBalancer).ingress)
        .map(o)
        .map((i) => String(i.ip ?? i.hostname ?? ''))
        .filter(Boolean);
      const all = [...ing, ...ext];
      return all.length ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return String(spec.externalName ?? '<none>');
    default:
      return '<unknown>';
  }
}

const printers: Record<string, Printer> = {
  pods: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Status'),
      col('Restarts'),
      col('Age'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    cells(p, now) {
      const status = o(p.status);
      const spec = o(p.spec);
      const cs = a(status.containerStatuses).map(o);
      const total = a(spec.containers).length;
      const ready = cs.filter((c) => c.ready === true).length;
      const restarts = cs.reduce((s, c) => s + n(c.restartCount), 0);
      return [
        name(p),
        `${ready}/${total}`,
        podStatusCell(p),
        String(restarts),
        age(p, now),
        String(status.podIP ?? '<none>'),
        String(spec.nodeName ?? '<none>'),
        '<none>',
        '<none>',
      ];
    },
  },
  services: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Type'),
      col('Cluster-IP'),
      col('External-IP'),
      col('Port(s)'),
      col('Age'),
      col('Selector', 'string', 1),
    ],
    cells(s, now) {
      const spec = o(s.spec);
      return [
        name(s),
        String(spec.type ?? 'ClusterIP'),
        String(spec.clusterIP ?? '<none>') || '<none>',
        externalIP(spec, o(s.status)),
        servicePorts(spec),
        age(s, now),
        labelsString(spec.selector),
      ];
    },
  },
  endpoints: {
    columns: [col('Name', 'string', 0, 'name'), col('Endpoints'), col('Age')],
    cells: (e, now) => [name(e), endpointsCell(e.subsets), age(e, now)],
  },
  'discovery.k8s.io/endpointslices': {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('AddressType'),
      col('Ports'),
      col('Endpoints'),
      col('Age'),
    ],
    cells(s, now) {
      const ports = a(s.ports).map(o);
      const eps = a(s.endpoints).flatMap((e) => a(o(e).addresses).map(String));
      const portCell = ports.length ? ports.map((p) => String(p.port ?? '')).join(',') : '<unset>';
      const epCell = eps.length
        ? eps.length > 3
          ? `${eps.slice(0, 3).join(',')} + ${eps.length - 3} more...`
          : eps.join(',')
        : '<unset>';
      return [name(s), String(s.addressType ?? ''), portCell, epCell, age(s, now)];
    },
  },
  namespaces: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Age')],
    cells: (ns, now) => [name(ns), String(o(ns.status).phase ?? 'Active'), age(ns, now)],
  },
  nodes: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Status'),
      col('Roles'),
      col('Age'),
      col('Version'),
      col('Internal-IP', 'string', 1),
      col('External-IP', 'string', 1),
      col('OS-Image', 'string', 1),
      col('Kernel-Version', 'string', 1),
      col('Container-Runtime', 'string', 1),
    ],
    cells(nd, now) {
      const status = o(nd.status);
      const spec = o(nd.spec);
      const ready = a(status.conditions)
        .map(o)
        .find((c) => c.type === 'Ready');
      const st = [ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown'];
      if (spec.unschedulable) st.push('SchedulingDisabled');
      const roles = Object.keys(o(o(nd.metadata).labels))
        .filter((k) => k.startsWith('node-role.kubernetes.io/'))
        .map((k) => k.slice('node-role.kubernetes.io/'.length))
        .filter(Boolean);
      const addr = (t: string) =>
        a(status.addresses)
          .map(o)
          .filter((x) => x.type === t)
          .map((x) => String(x.address))[0] ?? '<none>';
      const info = o(status.nodeInfo);
      return [
        name(nd),
        st.join(','),
        roles.length ? roles.sort().join(',') : '<none>',
        age(nd, now),
        String(info.kubeletVersion ?? ''),
        addr('InternalIP'),
        addr('ExternalIP'),
        String(info.osImage ?? '<unknown>'),
        String(info.kernelVersion ?? '<unknown>') || '<unknown>',
        String(info.containerRuntimeVersion ?? '<unknown>'),
      ];
    },
  },
  'apps/deployments': {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells(d, now) {
      const spec = o(d.spec);
      const st = o(d.status);
      const [c, i] = containersImages(spec);
      return [
        name(d),
        `${n(st.readyReplicas)}/${n(spec.replicas)}`,
        n(st.updatedReplicas),
        n(st.availableReplicas),
        age(d, now),
        c,
        i,
        formatLabelSelector(spec.selector),
      ];
    },
  },
  'apps/replicasets': {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Desired', 'integer'),
      col('Current', 'integer'),
      col('Ready', 'integer'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells(r, now) {
      const spec = o(r.spec);
      const st = o(r.status);
      const [c, i] = containersImages(spec);
      return [
        name(r),
        n(spec.replicas),
        n(st.replicas),
        n(st.readyReplicas),
        age(r, now),
        c,
        i,
        formatLabelSelector(spec.selector),
      ];
    },
  },
  'apps/statefulsets': {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
    ],
    cells(s, now) {
      const spec = o(s.spec);
      const st = o(s.status);
      const [c, i] = containersImages(spec);
      return [name(s), `${n(st.readyReplicas)}/${n(spec.replicas)}`, age(s, now), c, i];
    },
  },
  'apps/daemonsets': {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Desired', 'integer'),
      col('Current', 'integer'),
      col('Ready', 'integer'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Node Selector'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells(d, now) {
      const spec = o(d.spec);
      const st = o(d.status);
      const [c, i] = containersImages(spec);
      return [
        name(d),
        n(st.desiredNumberScheduled),
        n(st.currentNumberScheduled),
        n(st.numberReady),
        n(st.updatedNumberScheduled),
        n(st.numberAvailable),
        labelsString(o(o(spec.template).spec).nodeSelector),
        age(d, now),
        c,
        i,
        formatLabelSelector(spec.selector),
      ];
    },
  },
  'networking.k8s.io/networkpolicies': {
    columns: [col('Name', 'string', 0, 'name'), col('Pod-Selector'), col('Age')],
    cells(np, now) {
      const sel = formatLabelSelector(o(np.spec).podSelector);
      return [name(np), sel === '<none>' ? '<none>' : sel, age(np, now)];
    },
  },
  configmaps: {
    columns: [col('Name', 'string', 0, 'name'), col('Data', 'integer'), col('Age')],
    cells: (cm, now) => [
      name(cm),
      Object.keys(o(cm.data)).length + Object.keys(o(cm.binaryData)).length,
      age(cm, now),
    ],
  },
  events: {
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Message')],
    cells: (e, now) => [
      age(e, now),
      String(e.type ?? ''),
      String(e.reason ?? ''),
      '',
      String(e.message ?? ''),
    ],
  },
};

const defaultPrinter: Printer = {
  columns: [col('Name', 'string', 0, 'name'), col('Age')],
  cells: (x, now) => [name(x), age(x, now)],
};

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(obj: Obj, include: IncludeObject): Obj | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return obj;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

/** A Table of `objs` (noHeaders: a watch event's table, without column definitions). */
export function toTable(
  resource: string,
  objs: readonly Obj[],
  opts: {
    include: IncludeObject;
    now: number;
    resourceVersion?: string;
    continue?: string;
    noHeaders?: boolean;
  },
): Obj {
  const p = printers[resource] ?? defaultPrinter;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {
      ...(opts.resourceVersion !== undefined ? { resourceVersion: opts.resourceVersion } : {}),
      ...(opts.continue ? { continue: opts.continue } : {}),
    },
    columnDefinitions: opts.noHeaders ? null : p.columns,
    rows: objs.map((x) => {
      const obj = rowObject(x, opts.include);
      return { cells: p.cells(x, opts.now), ...(obj ? { object: obj } : {}) };
    }),
  };
}
