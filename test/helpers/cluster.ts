/** Builders for cluster tests: objects as literals, built through the real YAML pipeline. */
import { stringify } from 'yaml';
import { buildCluster, type ClusterSnapshot, type Diagnostic } from '../../netmodel/cluster/index.js';

type Obj = Record<string, unknown>;

export function yamlOf(...docs: Obj[]): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

/** Without the DNS addon: these clusters are about other things (test/cluster/dns-addon.test.ts tests it). */
export function build(...docs: Obj[]) {
  return buildCluster([{ file: 'test.yaml', text: yamlOf(...docs) }], { dnsAddon: false });
}

export function snapshotOf(...docs: Obj[]): ClusterSnapshot {
  const r = build(...docs);
  if (!r.ok) throw new Error(`expected a valid cluster:\n${r.diagnostics.map((d) => d.message).join('\n')}`);
  return r.snapshot;
}

export function errorsOf(...docs: Obj[]): Diagnostic[] {
  const r = build(...docs);
  return r.diagnostics.filter((d) => d.severity === 'error');
}

export function node(
  name: string,
  extra: {
    podCIDR?: string;
    ip?: string;
    labels?: Record<string, string>;
    taints?: Obj[];
    unschedulable?: boolean;
  } = {},
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(extra.labels ?? {}) } },
    spec: {
      ...(extra.podCIDR ? { podCIDR: extra.podCIDR } : {}),
      ...(extra.taints ? { taints: extra.taints } : {}),
      ...(extra.unschedulable ? { unschedulable: true } : {}),
    },
    ...(extra.ip ? { status: { addresses: [{ type: 'InternalIP', address: extra.ip }] } } : {}),
  };
}

export function svc(name: string, spec: Obj = {}, opts: { namespace?: string; status?: Obj } = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.namespace ?? 'default' },
    spec: { selector: { app: name }, ports: [{ port: 80 }], ...spec },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

export function pod(
  name: string,
  opts: {
    labels?: Record<string, string>;
    nodeName?: string;
    ports?: Obj[];
    status?: Obj;
    namespace?: string;
    spec?: Obj;
    metadata?: Obj;
  } = {},
): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: opts.namespace ?? 'default',
      labels: opts.labels ?? {},
      ...(opts.metadata ?? {}),
    },
    spec: {
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      containers: [{ name: 'c', image: 'kpath/echo', ...(opts.ports ? { ports: opts.ports } : {}) }],
      ...(opts.spec ?? {}),
    },
    ...(opts.status ? { status: opts.status } : {}),
  };
}

export function deployment(
  name: string,
  replicas: number,
  opts: { labels?: Record<string, string>; ports?: Obj[]; namespace?: string; podSpec?: Obj } = {},
): Obj {
  const labels = opts.labels ?? { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: opts.namespace ?? 'default' },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [{ name: 'c', image: 'kpath/echo', ...(opts.ports ? { ports: opts.ports } : {}) }],
          ...(opts.podSpec ?? {}),
        },
      },
    },
  };
}

export function clusterCfg(spec: Obj): Obj {
  return { apiVersion: 'kpath.dev/v1alpha1', kind: 'Cluster', metadata: { name: 't' }, spec };
}
