/** `kpath get RESOURCE`: kubectl's tables, or a kubectl-shaped List with everything kpath derived. */

import { stringify } from 'yaml';
import type { Argv } from 'yargs';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { fetchAdmin } from '../../proxy/runtime/admin-client.js';
import { addedNote } from '../format/added.js';
import {
  endpointsTable,
  type LivePod,
  nodesTable,
  podsTable,
  servicesTable,
  sliceTable,
  type TableOpts,
} from '../format/get-tables.js';
import {
  endpointsToK8s,
  list,
  namespaceToK8s,
  nodeToK8s,
  podToK8s,
  serviceToK8s,
  sliceToK8s,
} from '../format/k8s.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';

const RESOURCES: Record<string, string> = {
  pods: 'pods',
  pod: 'pods',
  po: 'pods',
  services: 'services',
  service: 'services',
  svc: 'services',
  endpoints: 'endpoints',
  ep: 'endpoints',
  endpointslices: 'endpointslices',
  endpointslice: 'endpointslices',
  nodes: 'nodes',
  node: 'nodes',
  no: 'nodes',
  namespaces: 'namespaces',
  namespace: 'namespaces',
  ns: 'namespaces',
  all: 'all',
};

export const command = 'get <resource> [name]';
export const describe =
  'list pods, services (svc), endpoints, endpointslices, nodes, namespaces or all, as kubectl does';

export function builder(y: Argv) {
  return withFiles(y)
    .positional('resource', { type: 'string', description: Object.keys(RESOURCES).join('|') })
    .positional('name', { type: 'string', description: 'only the object with this name' })
    .option('namespace', { alias: 'n', type: 'string', description: 'namespace (default: default)' })
    .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, description: 'every namespace' })
    .option('admin', {
      type: 'string',
      description:
        "a running kpath up's admin address (its --metrics-address, e.g. 127.0.0.1:10249): pods show its live readiness and restarts",
    })
    .option('output', {
      alias: 'o',
      type: 'string',
      choices: ['wide', 'json', 'yaml', 'name'],
      description: 'output format',
    });
}

interface GetArgs {
  resource: string;
  name?: string;
  f?: string[];
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  admin?: string;
}

export async function run(args: GetArgs, io: CliIO): Promise<number> {
  const kind = RESOURCES[args.resource.toLowerCase()];
  if (!kind) {
    io.err(
      `error: the server doesn't have a resource type "${args.resource}" (try: ${Object.keys(RESOURCES)
        .filter((k) => k.length > 3)
        .join(', ')})\n`,
    );
    return EXIT.FAILURE;
  }
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  // kpath's `get all` spans namespaces unless -n is given (kubectl's stays in one).
  const all = (args.allNamespaces ?? false) || (kind === 'all' && args.namespace === undefined);
  const ns = args.namespace ?? 'default';
  const inNs = <T extends { meta: { namespace: string; name: string } }>(xs: readonly T[]) =>
    xs.filter((x) => (all || x.meta.namespace === ns) && (!args.name || x.meta.name === args.name));
  const byName = <T extends { meta: { name: string } }>(xs: readonly T[]) =>
    xs.filter((x) => !args.name || x.meta.name === args.name);
  const sortKey = <T extends { meta: { namespace: string; name: string } }>(xs: T[]) =>
    xs.sort((a, b) => (a.meta.namespace + '/' + a.meta.name < b.meta.namespace + '/' + b.meta.name ? -1 : 1));

  const sel = {
    pods: sortKey(inNs(snap.pods)),
    services: sortKey(inNs(snap.services)),
    slices: sortKey(inNs(snap.endpointSlices)),
    nodes: byName([...snap.nodes].sort((a, b) => (a.meta.name < b.meta.name ? -1 : 1))),
    namespaces: byName(snap.namespaces),
  };

  if (args.output === 'json' || args.output === 'yaml') {
    const items = objectsFor(kind, sel, snap);
    if (args.name && items.length === 1 && kind !== 'all') return print(items[0]!, args.output, io);
    return print(list(items), args.output, io);
  }
  const wide = args.output === 'wide';
  const live =
    args.admin !== undefined && (kind === 'pods' || kind === 'all') ? await livePods(args.admin) : undefined;
  const opts: TableOpts = { wide, allNamespaces: all, ...(live ? { live } : {}) };
  if (args.output === 'name') {
    const names: string[] = [];
    if (kind === 'pods' || kind === 'all') names.push(...sel.pods.map((p) => `pod/${p.meta.name}`));
    if (kind === 'services' || kind === 'all')
      names.push(...sel.services.map((s) => `service/${s.meta.name}`));
    if (kind === 'endpoints') names.push(...sel.services.map((s) => `endpoints/${s.meta.name}`));
    if (kind === 'endpointslices')
      names.push(...sel.slices.map((s) => `endpointslice.discovery.k8s.io/${s.meta.name}`));
    if (kind === 'nodes') names.push(...sel.nodes.map((n) => `node/${n.meta.name}`));
    if (kind === 'namespaces') names.push(...sel.namespaces.map((n) => `namespace/${n.meta.name}`));
    io.out(names.map((n) => `${n}\n`).join(''));
    return EXIT.OK;
  }
  const empty = () => {
    io.err(all ? 'No resources found\n' : `No resources found in ${ns} namespace.\n`);
    return EXIT.OK;
  };
  switch (kind) {
    case 'pods':
      if (sel.pods.length === 0) return empty();
      io.out(podsTable(sel.pods, opts));
      break;
    case 'services':
      if (sel.services.length === 0) return empty();
      io.out(servicesTable(sel.services, opts));
      break;
    case 'endpoints':
      if (sel.services.length === 0) return empty();
      io.out(endpointsTable(snap, sel.services, opts));
      break;
    case 'endpointslices':
      if (sel.slices.length === 0) return empty();
      io.out(sliceTable(sel.slices, opts));
      break;
    case 'nodes':
      io.out(nodesTable(sel.nodes, opts));
      break;
    case 'namespaces':
      io.out(
        `${['NAME', 'STATUS', 'AGE'].join('   ')}\n${sel.namespaces.map((n) => `${n.meta.name.padEnd(Math.max(4, ...sel.namespaces.map((x) => x.meta.name.length)))}   Active   <unknown>`).join('\n')}\n`,
      );
      break;
    case 'all': {
      // kubectl get all lists workloads and services; kpath adds the nodes and endpoints it derived.
      const parts: string[] = [];
      parts.push(nodesTable(sel.nodes, { ...opts, wide: true, kindPrefix: 'node' }));
      if (sel.pods.length) parts.push(podsTable(sel.pods, { ...opts, wide: true, kindPrefix: 'pod' }));
      if (sel.services.length) parts.push(servicesTable(sel.services, { ...opts, kindPrefix: 'service' }));
      if (sel.services.length)
        parts.push(endpointsTable(snap, sel.services, { ...opts, kindPrefix: 'endpoints' }));
      if (parts.length === 1 && sel.pods.length === 0 && sel.services.length === 0 && !all) {
        io.err(`No resources found in ${ns} namespace.\n`);
      }
      io.out(parts.join('\n'));
      break;
    }
  }
  if (kind === 'pods' || kind === 'services' || kind === 'endpoints' || kind === 'all')
    io.err(addedNote(snap, sel.services, kind === 'services' || kind === 'endpoints' ? [] : sel.pods));
  return EXIT.OK;
}

/** The running kpath up's pods, by `ns/name`. */
async function livePods(admin: string): Promise<Map<string, LivePod>> {
  const r = await fetchAdmin<{ pods: (LivePod & { pod: string })[] }>(admin, '/api/v1/pods');
  return new Map(r.pods.map((p) => [p.pod, p]));
}

function objectsFor(
  kind: string,
  sel: {
    pods: ClusterSnapshot['pods'][number][];
    services: ClusterSnapshot['services'][number][];
    slices: ClusterSnapshot['endpointSlices'][number][];
    nodes: ClusterSnapshot['nodes'][number][];
    namespaces: ClusterSnapshot['namespaces'][number][];
  },
  snap: ClusterSnapshot,
): Record<string, unknown>[] {
  switch (kind) {
    case 'pods':
      return sel.pods.map((p) => podToK8s(p, snap));
    case 'services':
      return sel.services.map(serviceToK8s);
    case 'endpoints':
      return sel.services
        .filter((s) => s.type !== 'ExternalName')
        .map((s) => endpointsToK8s(s, snap.slicesFor(s)));
    case 'endpointslices':
      return sel.slices.map(sliceToK8s);
    case 'nodes':
      return sel.nodes.map(nodeToK8s);
    case 'namespaces':
      return sel.namespaces.map(namespaceToK8s);
    default:
      return [
        ...sel.nodes.map(nodeToK8s),
        ...sel.pods.map((p) => podToK8s(p, snap)),
        ...sel.services.map(serviceToK8s),
        ...sel.slices.map(sliceToK8s),
      ];
  }
}

function print(obj: Record<string, unknown>, format: string, io: CliIO): number {
  io.out(format === 'json' ? `${JSON.stringify(obj, null, 4)}\n` : stringify(obj, { lineWidth: 0 }));
  return EXIT.OK;
}
