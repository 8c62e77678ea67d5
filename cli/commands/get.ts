/**
 * `kpath get TYPE[,TYPE...] [NAME...]` and `kpath get TYPE/NAME...`: kubectl's tables, names, JSON,
 * YAML, JSONPath and custom columns, over the cluster kpath built (cli/commands/get-resources.ts
 * lists the resources). Behaviour follows kubectl's get: missing names are NotFound errors (exit 1)
 * after whatever was found is printed; several types print one table each, a blank line apart, with
 * TYPE/NAME names; `-o json|yaml|jsonpath|custom-columns|name` print one object for one named
 * object and a List otherwise.
 */

import { stringify as yamlStringify } from 'yaml';
import type { Argv } from 'yargs';
import { containersTable } from '../../cni/docker/index.js';
import {
  type ClusterSnapshot,
  type Meta,
  matchesTerms,
  type Pod,
  parseSelector,
  type SelectorTerm,
  type Service,
} from '../../netmodel/cluster/index.js';
import { planDockerHost } from '../../netmodel/docker/index.js';
import { ErrorCodes, isKpathError, KpathError } from '../../netmodel/errors.js';
import { fetchAdmin } from '../../proxy/runtime/admin-client.js';
import { addedNote } from '../format/added.js';
import { formatLabels, type LivePod } from '../format/get-tables.js';
import {
  findResults,
  goSprint,
  type JsonPathTemplate,
  parseJsonPath,
  relaxedPath,
  renderJsonPath,
} from '../format/jsonpath.js';
import { list } from '../format/k8s.js';
import { renderRows } from '../format/table.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import {
  ALL,
  findResource,
  kindPrefix,
  qualifiedResource,
  RESOURCES,
  type ResourceDef,
  resourceNames,
} from './get-resources.js';

export const command = 'get <resources..>';
export const describe = `list ${RESOURCES.map((r) => r.resource).join(', ')} or all, as kubectl get does`;

export function builder(y: Argv) {
  return withFiles(y)
    .positional('resources', {
      type: 'string',
      array: true,
      description: `TYPE[,TYPE...] [NAME...] or TYPE/NAME...; TYPE: ${resourceNames().join('|')}`,
    })
    .option('namespace', { alias: 'n', type: 'string', description: 'namespace (default: default)' })
    .option('all-namespaces', { alias: 'A', type: 'boolean', default: false, description: 'every namespace' })
    .option('selector', {
      alias: 'l',
      type: 'string',
      description:
        "label selector: 'app=web', 'tier!=db', 'env in (a,b)', 'app', '!legacy' (ANDed by commas)",
    })
    .option('output', {
      alias: 'o',
      type: 'string',
      description: "wide|json|yaml|name|jsonpath='{...}'|custom-columns=HEADER:.path,...",
    })
    .option('show-labels', { type: 'boolean', default: false, description: 'add a LABELS column' })
    .option('admin', {
      type: 'string',
      description:
        "a running kpath up's admin address (its --metrics-address, e.g. 127.0.0.1:10249): pods show its live readiness and restarts",
    })
    .option('headers', {
      type: 'boolean',
      default: true,
      description: 'print the header lines (--no-headers: leave them out, as kubectl)',
    })
    .example('$0 get svc,ep -n default', 'services and endpoints, one table each')
    .example('$0 get svc/web -o wide', 'one service by TYPE/NAME')
    .example('$0 get pods -l app=web --show-labels', 'pods selected by label')
    .example(
      '$0 get pods -A -o jsonpath=\'{range .items[*]}{.metadata.name}{"\\t"}{.status.podIP}{"\\n"}{end}\'',
      'JSONPath',
    )
    .example('$0 get nodes -o custom-columns=NAME:.metadata.name,CIDR:.spec.podCIDR', 'custom columns');
}

interface GetArgs {
  admin?: string;
  resources: string[];
  f?: string[];
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  output?: string;
  showLabels?: boolean;
  headers?: boolean;
}

/** One object found, with the resource it belongs to. */
interface Found {
  readonly def: ResourceDef;
  readonly obj: { meta: Meta };
}

type Output =
  | { kind: 'table'; wide: boolean }
  | { kind: 'json' | 'yaml' | 'name' }
  | { kind: 'jsonpath'; template: JsonPathTemplate }
  | { kind: 'custom-columns'; columns: { header: string; path: JsonPathTemplate }[] };

function usage(message: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, message);
}

function parseOutput(o: string | undefined): Output {
  if (o === undefined || o === '') return { kind: 'table', wide: false };
  if (o === 'wide') return { kind: 'table', wide: true };
  if (o === 'json' || o === 'yaml' || o === 'name') return { kind: o };
  if (o.startsWith('jsonpath='))
    return { kind: 'jsonpath', template: parseJsonPath(o.slice('jsonpath='.length)) };
  if (o.startsWith('custom-columns=')) {
    const spec = o.slice('custom-columns='.length);
    if (spec === '') throw usage('custom-columns format specified but no custom columns given');
    const columns = spec.split(',').map((part) => {
      const i = part.indexOf(':');
      if (i <= 0) throw usage(`unexpected custom-columns spec: ${part}, expected <header>:<json-path-expr>`);
      return { header: part.slice(0, i), path: relaxedPath(part.slice(i + 1)) };
    });
    return { kind: 'custom-columns', columns };
  }
  throw usage(
    `unable to match a printer suitable for the output format "${o}", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml`,
  );
}

/** The request: which resources, which names, and whether one object was named (kubectl's singleItemImplied). */
function parseArgs(args: readonly string[]): {
  requests: { def: ResourceDef; name?: string }[];
  single: boolean;
  all: boolean;
} {
  const unknown = (t: string) =>
    usage(
      `the server doesn't have a resource type "${t}" (try: ${RESOURCES.map((r) => r.resource).join(', ')}, all)`,
    );
  const resolve = (t: string): ResourceDef[] => {
    if (t.toLowerCase() === 'all') return ALL.map((r) => findResource(r)!);
    const d = findResource(t);
    if (!d) throw unknown(t);
    return [d];
  };
  if (args[0]!.includes('/')) {
    const requests = args.map((a) => {
      const i = a.indexOf('/');
      if (i <= 0 || i === a.length - 1 || a.indexOf('/', i + 1) >= 0)
        throw usage(`arguments in resource/name form must have a single resource and name (got "${a}")`);
      if (a.slice(0, i).toLowerCase() === 'all') throw unknown('all');
      return { def: resolve(a.slice(0, i))[0]!, name: a.slice(i + 1) };
    });
    return { requests, single: requests.length === 1, all: false };
  }
  const [types, ...names] = args;
  if (names.some((n) => n.includes('/')))
    throw usage(
      "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kpath get resource/<resource_name>' instead of 'kpath get resource resource/<resource_name>'",
    );
  const typeList = types!.split(',').filter((t) => t !== '');
  if (typeList.length === 0) throw usage('name a resource type, e.g. kpath get pods');
  const defs = typeList.flatMap(resolve);
  const all = typeList.some((t) => t.toLowerCase() === 'all');
  const requests = names.length
    ? defs.flatMap((def) => names.map((name) => ({ def, name })))
    : defs.map((def) => ({ def }));
  return { requests, single: typeList.length === 1 && !all && names.length === 1, all };
}

export async function run(args: GetArgs, io: CliIO): Promise<number> {
  // Docker hosts' containers (kind: DockerHost): not a Kubernetes resource, a table of their own.
  if (args.resources.length === 1 && ['containers', 'container'].includes(args.resources[0]!)) {
    const snap = loadOrReport(args.f, io);
    if (typeof snap === 'number') return snap;
    const text = containersTable(
      snap.dockerHosts.map((h) => planDockerHost(h).plan),
      args.output === 'json',
    );
    if (text) io.out(text);
    else io.err('No resources found (containers belong to a DockerHost).\n');
    return EXIT.OK;
  }
  let req: ReturnType<typeof parseArgs>;
  let out: Output;
  let terms: SelectorTerm[];
  try {
    req = parseArgs(args.resources);
    out = parseOutput(args.output);
    terms = parseSelector(args.selector ?? '');
  } catch (e) {
    if (!isKpathError(e)) throw e;
    io.err(`error: ${e.message}\n`);
    // An unknown resource type is kubectl's exit 1; any other malformed argument is invalid input.
    return e.message.startsWith("the server doesn't have") ? EXIT.FAILURE : EXIT.INVALID;
  }
  const named = req.requests.some((r) => r.name !== undefined);
  if (named && args.selector !== undefined) {
    io.err('error: name cannot be provided when a selector is specified\n');
    return EXIT.INVALID;
  }
  if (named && args.allNamespaces) {
    io.err('error: a resource cannot be retrieved by name across all namespaces\n');
    return EXIT.INVALID;
  }
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;

  // kpath's `get all` spans namespaces unless -n is given (kubectl's stays in one).
  const allNs = (args.allNamespaces ?? false) || (req.all && args.namespace === undefined);
  const ns = args.namespace ?? 'default';
  const byKey = (a: { meta: Meta }, b: { meta: Meta }) => {
    const x = `${a.meta.namespace}/${a.meta.name}`;
    const y = `${b.meta.namespace}/${b.meta.name}`;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const found: Found[] = [];
  const errors: string[] = [];
  for (const r of req.requests) {
    const inScope = r.def
      .list(snap)
      .filter((o) => !r.def.namespaced || allNs || o.meta.namespace === ns)
      .filter((o) => matchesTerms(terms, o.meta.labels));
    if (r.name === undefined) {
      for (const obj of [...inScope].sort(byKey)) found.push({ def: r.def, obj });
      continue;
    }
    const obj = inScope.find((o) => o.meta.name === r.name);
    if (obj) found.push({ def: r.def, obj });
    else errors.push(`Error from server (NotFound): ${qualifiedResource(r.def)} "${r.name}" not found`);
  }
  const status = () => {
    for (const e of errors) io.err(`${e}\n`);
    return errors.length ? EXIT.FAILURE : EXIT.OK;
  };

  if (out.kind !== 'table') {
    if (req.single && errors.length) return status();
    try {
      printGeneric(found, req.single, out, snap, !(args.headers ?? true), io);
    } catch (e) {
      if (!isKpathError(e)) throw e;
      io.err(`error: ${e.message}\n`);
      return EXIT.FAILURE;
    }
    return status();
  }

  const withKind = new Set(found.map((f) => f.def)).size > 1;
  const live =
    args.admin !== undefined && found.some((f) => f.def.resource === 'pods')
      ? await livePods(args.admin)
      : undefined;
  const tables: string[] = [];
  for (let i = 0; i < found.length; ) {
    const def = found[i]!.def;
    let j = i;
    while (j < found.length && found[j]!.def === def) j++;
    const objs = found.slice(i, j).map((f) => f.obj);
    i = j;
    // kpath's `get all` shows pods and nodes wide: where each pod runs is the point of the picture.
    const wide = out.wide || (req.all && (def.resource === 'pods' || def.resource === 'nodes'));
    tables.push(
      table(def, objs, snap, {
        wide,
        namespaceColumn: allNs && def.namespaced,
        withKind,
        showLabels: args.showLabels ?? false,
        headers: args.headers ?? true,
        ...(live ? { live } : {}),
      }),
    );
  }
  io.out(tables.join(args.headers === false ? '' : '\n'));
  if (found.length === 0 && errors.length === 0) {
    const namespaced = !allNs && req.requests.every((r) => r.def.namespaced);
    io.err(namespaced ? `No resources found in ${ns} namespace.\n` : 'No resources found\n');
  }
  io.err(
    addedNote(
      snap,
      found.filter((f) => f.def.resource === 'services').map((f) => f.obj as Service),
      found.filter((f) => f.def.resource === 'pods').map((f) => f.obj as Pod),
    ),
  );
  return status();
}

/** The running kpath up's pods, by `ns/name`. */
async function livePods(admin: string): Promise<Map<string, LivePod>> {
  const r = await fetchAdmin<{ pods: (LivePod & { pod: string })[] }>(admin, '/api/v1/pods');
  return new Map(r.pods.map((p) => [p.pod, p]));
}

function table(
  def: ResourceDef,
  objs: readonly { meta: Meta }[],
  snap: ClusterSnapshot,
  o: {
    wide: boolean;
    namespaceColumn: boolean;
    withKind: boolean;
    showLabels: boolean;
    headers: boolean;
    live?: ReadonlyMap<string, LivePod>;
  },
): string {
  const cols = def.columns;
  const n = cols.headers.length + (o.wide ? cols.wide.length : 0);
  const header = [
    ...(o.namespaceColumn ? ['NAMESPACE'] : []),
    ...[...cols.headers, ...cols.wide].slice(0, n),
    ...(o.showLabels ? ['LABELS'] : []),
  ];
  const rows = objs.map((obj) => {
    const cells = cols.row(obj, snap, o.live ? { live: o.live } : undefined).slice(0, n);
    if (o.withKind) cells[0] = `${kindPrefix(def)}/${cells[0]}`;
    return [
      ...(o.namespaceColumn ? [obj.meta.namespace] : []),
      ...cells,
      ...(o.showLabels ? [formatLabels(obj.meta.labels)] : []),
    ];
  });
  return renderRows(o.headers ? [header, ...rows] : rows);
}

function printGeneric(
  found: readonly Found[],
  single: boolean,
  out: Exclude<Output, { kind: 'table' }>,
  snap: ClusterSnapshot,
  noHeaders: boolean,
  io: CliIO,
): void {
  const items = found.map((f) => f.def.toK8s(f.obj, snap));
  const obj = single && items.length === 1 ? items[0]! : list(items);
  switch (out.kind) {
    case 'json':
      io.out(`${JSON.stringify(obj, null, 4)}\n`);
      return;
    case 'yaml':
      io.out(yamlStringify(obj, { lineWidth: 0 }));
      return;
    case 'name':
      io.out(found.map((f) => `${kindPrefix(f.def)}/${f.obj.meta.name}\n`).join(''));
      return;
    case 'jsonpath':
      io.out(renderJsonPath(out.template, obj));
      return;
    case 'custom-columns': {
      const rows = items.map((item) =>
        out.columns.map((c) => {
          const vals = findResults(c.path, item);
          return vals.length ? vals.map(goSprint).join(',') : '<none>';
        }),
      );
      io.out(renderRows(noHeaders ? rows : [out.columns.map((c) => c.header), ...rows]));
      return;
    }
  }
}
