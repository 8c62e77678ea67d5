/** An immutable, versioned view of the whole cluster, with lookups. Every consumer is a function of one. */
import type { DockerHost } from '../docker/index.js';
import type { Diagnostic } from './diagnostics.js';
import type {
  ClusterConfig,
  EndpointSlice,
  Namespace,
  NetworkPolicy,
  Node,
  Pod,
  ProxyConfig,
  Service,
  Workload,
} from './objects.js';

export interface SnapshotParts {
  readonly config: ClusterConfig;
  readonly proxy: ProxyConfig;
  readonly namespaces: readonly Namespace[];
  readonly nodes: readonly Node[];
  readonly pods: readonly Pod[];
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly workloads: readonly Workload[];
  readonly networkPolicies: readonly NetworkPolicy[];
  /** Warnings that did not stop the build. */
  readonly warnings: readonly Diagnostic[];
  /** Docker hosts (kind: DockerHost), each a node of its own. */
  readonly dockerHosts?: readonly DockerHost[];
}

function deepFreeze<T>(v: T, seen = new Set<unknown>()): T {
  if (v && typeof v === 'object' && !seen.has(v)) {
    seen.add(v);
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k], seen);
  }
  return v;
}

export class ClusterSnapshot implements SnapshotParts {
  readonly version: number;
  readonly config: ClusterConfig;
  readonly proxy: ProxyConfig;
  readonly namespaces: readonly Namespace[];
  readonly nodes: readonly Node[];
  readonly pods: readonly Pod[];
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly workloads: readonly Workload[];
  readonly networkPolicies: readonly NetworkPolicy[];
  readonly warnings: readonly Diagnostic[];
  readonly dockerHosts: readonly DockerHost[];
  private readonly slicesBySvc = new Map<string, EndpointSlice[]>();
  private readonly svcByKey: Map<string, Service>;
  private readonly podByKey: Map<string, Pod>;
  private readonly nodeByName: Map<string, Node>;

  constructor(parts: SnapshotParts, version: number) {
    this.version = version;
    this.config = parts.config;
    this.proxy = parts.proxy;
    this.namespaces = parts.namespaces;
    this.nodes = parts.nodes;
    this.pods = parts.pods;
    this.services = parts.services;
    this.endpointSlices = parts.endpointSlices;
    this.workloads = parts.workloads;
    this.networkPolicies = parts.networkPolicies;
    this.warnings = parts.warnings;
    this.dockerHosts = parts.dockerHosts ?? [];
    for (const s of parts.endpointSlices) {
      const k = `${s.meta.namespace}/${s.serviceName}`;
      const list = this.slicesBySvc.get(k) ?? [];
      list.push(s);
      this.slicesBySvc.set(k, list);
    }
    this.svcByKey = new Map(parts.services.map((s) => [`${s.meta.namespace}/${s.meta.name}`, s]));
    this.podByKey = new Map(parts.pods.map((p) => [`${p.meta.namespace}/${p.meta.name}`, p]));
    this.nodeByName = new Map(parts.nodes.map((n) => [n.meta.name, n]));
    // Origins hold closures over YAML documents; freeze the model objects, not those.
    for (const list of [
      parts.namespaces,
      parts.nodes,
      parts.pods,
      parts.services,
      parts.endpointSlices,
      parts.workloads,
    ]) {
      Object.freeze(list);
      for (const o of list as readonly { meta: unknown }[]) {
        Object.freeze(o);
        deepFreeze((o as { meta: { labels: unknown } }).meta.labels);
      }
    }
    Object.freeze(this);
  }

  service(namespace: string, name: string): Service | undefined {
    return this.svcByKey.get(`${namespace}/${name}`);
  }

  pod(namespace: string, name: string): Pod | undefined {
    return this.podByKey.get(`${namespace}/${name}`);
  }

  node(name: string): Node | undefined {
    return this.nodeByName.get(name);
  }

  /** All EndpointSlices of a service (derived, mirrored or given). */
  slicesFor(svc: Service | { meta: { namespace: string; name: string } }): readonly EndpointSlice[] {
    return this.slicesBySvc.get(`${svc.meta.namespace}/${svc.meta.name}`) ?? [];
  }
}
