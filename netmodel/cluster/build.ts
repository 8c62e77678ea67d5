/**
 * The whole pipeline from manifest text to a snapshot:
 *   parse YAML -> decode and validate each object -> nodes (pod CIDRs, addresses) -> pods (given and
 *   expanded from workloads, scheduled) -> pod IPs -> services (cluster IPs, node ports, LB IPs) ->
 *   EndpointSlices (derived from selectors, or given) -> snapshot.
 * Every error is collected; if there is any, no snapshot is produced.
 */

import { prefixContains } from '../addr.js';
import { allocateNodes, allocatePodIPs, allocateServices } from './allocate.js';
import { decodeAll } from './decode.js';
import { MANAGED_BY_LABEL } from './decode-endpoints.js';
import { CLUSTER_DEFAULTS, PROXY_DEFAULTS } from './defaults.js';
import { type Diagnostic, Reporter } from './diagnostics.js';
import { dnsAddonManifest } from './dns-addon.js';
import { deriveEndpointSlices } from './endpoints.js';
import { uidFor } from './hash.js';
import { type ManifestSource, parseManifests, type RawObject } from './manifest.js';
import type { EndpointSlice, Namespace, Node, Pod, Workload } from './objects.js';
import { Scheduler, unschedulableMessage } from './scheduler.js';
import { ClusterSnapshot } from './snapshot.js';
import { daemonSetPod, expandWorkload } from './workloads.js';

export type BuildResult =
  | { readonly ok: true; readonly snapshot: ClusterSnapshot; readonly diagnostics: readonly Diagnostic[] }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] };

export const BUILTIN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export interface BuildOptions {
  /** The new snapshot's version (default 1). */
  readonly version?: number;
  /**
   * The snapshot this build replaces. Its placements are an input: a pod that still exists (same
   * namespace, name and owner) keeps its node and its IPs, as a bound pod does in Kubernetes, so
   * changing one workload re-plans only that workload's pods.
   */
  readonly previous?: ClusterSnapshot;
  /** `kubectl apply -n NS`: the namespace of objects that name none; a different one is an error. */
  readonly namespace?: string;
  /** Overrides Cluster spec.dns.addon (tests about other things turn the DNS addon off). */
  readonly dnsAddon?: boolean;
}

export function buildCluster(sources: readonly ManifestSource[], opts: BuildOptions = {}): BuildResult {
  const diags: Diagnostic[] = [];
  const raws = parseManifests(sources, diags);
  return buildClusterFromObjects(raws, opts, diags);
}

/**
 * The same pipeline from raw objects already parsed (the API server merges its own objects with the
 * manifests' before building); `diags` may hold the parse diagnostics to report with the rest.
 */
export function buildClusterFromObjects(
  raws: readonly RawObject[],
  opts: BuildOptions = {},
  diags: Diagnostic[] = [],
): BuildResult {
  const report = new Reporter(diags);
  const d = decodeAll(raws, report, opts.namespace !== undefined ? { namespace: opts.namespace } : {});
  const config = d.config ?? CLUSTER_DEFAULTS;
  const addonOn = opts.dnsAddon ?? config.dns.addon;
  const addon = addonOn ? dnsAddonManifest(config, d.services, d.workloads) : '';
  if (addon) {
    const extra = decodeAll(parseManifests([{ file: '<builtin:dns-addon>', text: addon }], diags), report);
    d.services.push(...extra.services);
    d.workloads.push(...extra.workloads);
  }
  // kubeadm writes the pod subnet into kube-proxy's clusterCIDR; kpath does the same when it is unset.
  const proxy = d.proxy
    ? d.proxy.clusterCIDRs.length
      ? d.proxy
      : { ...d.proxy, clusterCIDRs: config.podCIDRs }
    : { ...PROXY_DEFAULTS, clusterCIDRs: config.podCIDRs };

  const nodes = allocateNodes(d.nodes, config, report);
  const nodeNames = new Set(nodes.map((n) => n.meta.name));

  // Pods: given, then expanded from workloads; names must not collide.
  const podRef = (p: Pod) => ({ kind: 'Pod', namespace: p.meta.namespace, name: p.meta.name });
  const podKeys = new Map<string, string>();
  const pods: Pod[] = [];
  for (const p of d.pods) {
    podKeys.set(`${p.meta.namespace}/${p.meta.name}`, 'a Pod in the manifests');
    if (p.nodeName && !nodeNames.has(p.nodeName)) {
      report.error(
        p.meta.origin,
        podRef(p),
        ['spec', 'nodeName'],
        `node "${p.nodeName}" does not exist (nodes: ${[...nodeNames].join(', ')})`,
      );
    }
    pods.push(p);
  }
  const scheduler = new Scheduler(nodes);
  for (const p of pods) if (p.nodeName) scheduler.account(p, p.nodeName);
  const kept = keptPlacements(opts.previous, nodes);
  // Pods that were already running keep their node; they are counted before anything new is placed.
  const keptNode = (p: Pod): string | undefined => kept.nodeOf(p);
  for (const p of pods) {
    const n = p.nodeName ? undefined : keptNode(p);
    if (n) scheduler.account(p, n);
  }
  const expanded = new Map<Workload, Pod[]>();
  for (const w of d.workloads) {
    if (w.kind === 'DaemonSet') continue;
    const list = expandWorkload(w);
    expanded.set(w, list);
    for (const p of list) {
      const n = p.nodeName && nodeNames.has(p.nodeName) ? undefined : keptNode(p);
      if (n) scheduler.account(p, n);
    }
  }
  const sortedWorkloads = [...d.workloads].sort((a, b) => {
    const ka = `${a.meta.namespace}/${a.kind}/${a.meta.name}`;
    const kb = `${b.meta.namespace}/${b.kind}/${b.meta.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const addDerived = (p: Pod, owner: string) => {
    const key = `${p.meta.namespace}/${p.meta.name}`;
    const prev = podKeys.get(key);
    if (prev) {
      diags.push({
        severity: 'error',
        object: podRef(p),
        message: `pod name ${key} from ${owner} collides with ${prev}; rename one of them`,
      });
      return;
    }
    podKeys.set(key, owner);
    pods.push(p);
  };
  // Given pods without a node are scheduled first (they were created first), then workload pods.
  const placed: Pod[] = pods.map((p) => {
    if (p.nodeName) return p;
    const k = keptNode(p);
    if (k) return { ...p, nodeName: k };
    const n = scheduler.place(p);
    if (!n) {
      report.warning(
        p.meta.origin,
        podRef(p),
        ['spec'],
        `unschedulable, stays Pending: ${unschedulableMessage(p, nodes)}`,
      );
      return { ...p, phase: 'Pending' as const, ready: false };
    }
    return { ...p, nodeName: n };
  });
  pods.length = 0;
  pods.push(...placed);
  for (const w of sortedWorkloads) {
    const owner = `${w.kind} ${w.meta.namespace}/${w.meta.name}`;
    if (w.kind === 'DaemonSet') {
      const probe = daemonSetPod(w, '');
      const eligible = scheduler.eligibleNodes(probe);
      if (eligible.length === 0) {
        report.warning(
          w.meta.origin,
          { kind: w.kind, namespace: w.meta.namespace, name: w.meta.name },
          ['spec', 'template'],
          `no eligible node: ${unschedulableMessage(probe, nodes)}`,
        );
      }
      for (const n of eligible) {
        const p = daemonSetPod(w, n.meta.name);
        scheduler.account(p, n.meta.name);
        addDerived(p, owner);
      }
      continue;
    }
    for (const p of expanded.get(w) ?? []) {
      const given = p.nodeName && nodeNames.has(p.nodeName) ? p.nodeName : undefined;
      const k = given ? undefined : keptNode(p);
      const n = given ?? k ?? scheduler.place(p);
      if (given) scheduler.account(p, given);
      if (!n) {
        report.warning(
          w.meta.origin,
          { kind: w.kind, namespace: w.meta.namespace, name: w.meta.name },
          ['spec', 'template'],
          `pod ${p.meta.name} is unschedulable, stays Pending: ${unschedulableMessage(p, nodes)}`,
        );
        addDerived({ ...p, nodeName: null, phase: 'Pending', ready: false }, owner);
      } else addDerived({ ...p, nodeName: n }, owner);
    }
  }
  const withIPs = allocatePodIPs(
    pods.map((p) => kept.withIPs(p)),
    nodes,
    report,
    config.network.plugin,
  );
  const services = allocateServices(d.services, config, report);

  // EndpointSlices.
  const slices: EndpointSlice[] = [];
  const svcKeys = new Set(services.map((s) => `${s.meta.namespace}/${s.meta.name}`));
  for (const s of services) slices.push(...deriveEndpointSlices(s, withIPs, nodes));
  for (const sl of d.slices) {
    if (!sl.serviceName) continue;
    const key = `${sl.meta.namespace}/${sl.serviceName}`;
    if (!svcKeys.has(key)) {
      report.warning(
        sl.meta.origin,
        { kind: 'EndpointSlice', namespace: sl.meta.namespace, name: sl.meta.name },
        ['metadata', 'labels'],
        `service ${key} does not exist; the slice is kept but nothing uses it`,
      );
    }
    const svc = services.find((s) => `${s.meta.namespace}/${s.meta.name}` === key);
    if (svc?.selector && sl.source === 'mirror') {
      // The mirroring controller skips Endpoints of services that have a selector.
      continue;
    }
    if (svc?.selector && sl.meta.labels[MANAGED_BY_LABEL] === 'endpointslice-controller.k8s.io') continue;
    slices.push(sl);
  }

  // Namespaces: declared ones, plus the built-in ones and any that objects use.
  const namespaces: Namespace[] = [...d.namespaces];
  const nsNames = new Set(namespaces.map((n) => n.meta.name));
  const used = new Set<string>(BUILTIN_NAMESPACES);
  for (const o of [...withIPs, ...services, ...d.workloads, ...slices]) used.add(o.meta.namespace);
  for (const name of [...used].sort()) {
    if (nsNames.has(name)) continue;
    namespaces.push({
      kind: 'Namespace',
      meta: {
        name,
        namespace: '',
        labels: { 'kubernetes.io/metadata.name': name },
        annotations: {},
        uid: uidFor(`Namespace//${name}`),
      },
      raw: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      derived: true,
    });
  }
  namespaces.sort((a, b) => (a.meta.name < b.meta.name ? -1 : 1));

  sortDiagnostics(diags);
  if (report.errorCount > 0) return { ok: false, diagnostics: diags };
  const snapshot = new ClusterSnapshot(
    {
      config,
      proxy,
      namespaces,
      nodes,
      pods: withIPs,
      services,
      endpointSlices: slices,
      workloads: d.workloads,
      networkPolicies: d.policies,
      warnings: diags.filter((x) => x.severity === 'warning'),
    },
    opts.version ?? 1,
  );
  return { ok: true, snapshot, diagnostics: diags };
}

/** In file order: by file, line, column; diagnostics without a position last. */
function sortDiagnostics(diags: Diagnostic[]): void {
  const indexed = diags.map((d, i) => ({ d, i }));
  indexed.sort((a, b) => {
    const pa = a.d.pos;
    const pb = b.d.pos;
    if (!pa || !pb) return pa ? -1 : pb ? 1 : a.i - b.i;
    return pa.file < pb.file ? -1 : pa.file > pb.file ? 1 : pa.line - pb.line || pa.col - pb.col || a.i - b.i;
  });
  diags.splice(0, diags.length, ...indexed.map((x) => x.d));
}

/**
 * What the previous snapshot placed: a pod is the same pod when its namespace, name and controller
 * (kind and name) are the same. It keeps its node while that node exists and still matches the pod's
 * nodeSelector, and its IPs while they are inside that node's pod CIDRs.
 */
function keptPlacements(previous: ClusterSnapshot | undefined, nodes: readonly Node[]) {
  const byName = new Map(nodes.map((n) => [n.meta.name, n]));
  const ownerOf = (p: Pod) => {
    const o = p.meta.ownerReferences?.[0];
    return o ? `${o.kind}/${o.name}` : '';
  };
  const prevOf = (p: Pod): Pod | undefined => {
    const prev = previous?.pod(p.meta.namespace, p.meta.name);
    return prev && ownerOf(prev) === ownerOf(p) ? prev : undefined;
  };
  const nodeOf = (p: Pod): string | undefined => {
    const prev = prevOf(p);
    const node = prev?.nodeName ? byName.get(prev.nodeName) : undefined;
    if (!node) return undefined;
    for (const [k, v] of Object.entries(p.nodeSelector)) if (node.meta.labels[k] !== v) return undefined;
    return node.meta.name;
  };
  const withIPs = (p: Pod): Pod => {
    const prev = prevOf(p);
    if (!prev || !p.nodeName || prev.nodeName !== p.nodeName || p.podIPs.length > 0) return p;
    if (p.hostNetwork || prev.hostNetwork) return p;
    const cidrs = byName.get(p.nodeName)?.podCIDRs ?? [];
    const ips = prev.podIPs.filter((ip) => cidrs.some((c) => prefixContains(c, ip)));
    return ips.length ? { ...p, podIPs: ips } : p;
  };
  return { nodeOf, withIPs };
}
