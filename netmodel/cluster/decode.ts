/** Raw objects -> typed objects, by kind and apiVersion. Unknown kinds are warned about and ignored. */

import { BUILTIN_KINDS, groupOf, isBuiltinGroup } from './builtin-kinds.js';
import { decodeClusterConfig, decodeProxyConfig } from './decode-config.js';
import { decodeEndpointSlice, decodeEndpoints } from './decode-endpoints.js';
import { decodeMeta, type NameRule } from './decode-meta.js';
import { decodeNetworkPolicy, withNamespaceNameLabel } from './decode-networkpolicy.js';
import { decodeNode } from './decode-node.js';
import { decodePod } from './decode-pod.js';
import { decodeService } from './decode-service.js';
import { decodeWorkload } from './decode-workload.js';
import type { ObjectRef, Origin, Reporter } from './diagnostics.js';
import { Fields } from './fields.js';
import type { RawObject } from './manifest.js';
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
import { KIND_SCHEMAS, KUBE_PROXY_CONFIGURATION } from './schema.js';
import { checkUnknownFields, closest } from './strict.js';

export interface Decoded {
  config?: ClusterConfig;
  proxy?: ProxyConfig;
  namespaces: Namespace[];
  nodes: Node[];
  pods: Pod[];
  services: Service[];
  slices: EndpointSlice[];
  workloads: Workload[];
  policies: NetworkPolicy[];
}

interface KindInfo {
  readonly apiVersions: readonly string[];
  readonly namespaced: boolean;
  readonly nameRule: NameRule;
}

const KINDS: Record<string, KindInfo> = {
  Namespace: { apiVersions: ['v1'], namespaced: false, nameRule: 'label' },
  Node: { apiVersions: ['v1'], namespaced: false, nameRule: 'subdomain' },
  Pod: { apiVersions: ['v1'], namespaced: true, nameRule: 'subdomain' },
  Service: { apiVersions: ['v1'], namespaced: true, nameRule: 'dns1035' },
  Endpoints: { apiVersions: ['v1'], namespaced: true, nameRule: 'subdomain' },
  EndpointSlice: { apiVersions: ['discovery.k8s.io/v1'], namespaced: true, nameRule: 'subdomain' },
  Deployment: { apiVersions: ['apps/v1'], namespaced: true, nameRule: 'subdomain' },
  ReplicaSet: { apiVersions: ['apps/v1'], namespaced: true, nameRule: 'subdomain' },
  StatefulSet: { apiVersions: ['apps/v1'], namespaced: true, nameRule: 'label' },
  DaemonSet: { apiVersions: ['apps/v1'], namespaced: true, nameRule: 'subdomain' },
  NetworkPolicy: { apiVersions: ['networking.k8s.io/v1'], namespaced: true, nameRule: 'subdomain' },
};

export interface DecodeOptions {
  /** `-n NS`: the namespace of namespaced objects that give none (kubectl apply -n). */
  readonly namespace?: string;
}

export function decodeAll(raws: readonly RawObject[], report: Reporter, opts: DecodeOptions = {}): Decoded {
  const out: Decoded = {
    namespaces: [],
    nodes: [],
    pods: [],
    services: [],
    slices: [],
    workloads: [],
    policies: [],
  };
  const seen = new Map<string, string>();
  const ignored = new Map<string, { kind: string; apiVersion: string; count: number; origin: Origin }>();
  for (const raw of raws) {
    const kind = typeof raw.body.kind === 'string' ? raw.body.kind : undefined;
    const apiVersion = typeof raw.body.apiVersion === 'string' ? raw.body.apiVersion : undefined;
    const anonymous: ObjectRef = {
      kind: kind ?? '(no kind)',
      name: String((raw.body.metadata as { name?: unknown })?.name ?? '(no name)'),
    };
    const f0 = new Fields(raw.body, raw.origin, anonymous, report);
    if (!kind) {
      f0.error(['kind'], 'required: every object needs a kind (e.g. Service)');
      continue;
    }
    if (!apiVersion) {
      f0.error(['apiVersion'], `required: apiVersion (${KINDS[kind]?.apiVersions[0] ?? 'e.g. v1'})`);
      continue;
    }
    if (kind === 'Cluster' && apiVersion.startsWith('kpath.dev/')) {
      if (apiVersion !== 'kpath.dev/v1alpha1')
        f0.error(['apiVersion'], `"${apiVersion}" is not served; use kpath.dev/v1alpha1`);
      else if (out.config) f0.error([], 'a second Cluster object (give exactly one)');
      else
        out.config = decodeClusterConfig(new Fields(raw.body, raw.origin, { kind, name: 'cluster' }, report));
      continue;
    }
    if (kind === 'KubeProxyConfiguration') {
      if (apiVersion !== 'kubeproxy.config.k8s.io/v1alpha1') {
        f0.error(['apiVersion'], `"${apiVersion}" is not served; use kubeproxy.config.k8s.io/v1alpha1`);
      } else if (out.proxy) f0.error([], 'a second KubeProxyConfiguration (give exactly one)');
      else {
        const pf = new Fields(raw.body, raw.origin, { kind, name: 'kube-proxy' }, report);
        checkUnknownFields(pf, KUBE_PROXY_CONFIGURATION, raw.body);
        out.proxy = decodeProxyConfig(pf);
      }
      continue;
    }
    const info = KINDS[kind];
    const served = BUILTIN_KINDS[apiVersion];
    if (served && !served.includes(kind) && !info) {
      // The apiserver's words (apimachinery meta.NoKindMatchError), with the closest kind as a hint.
      const hint = closest(kind, served);
      f0.error(
        ['kind'],
        `no matches for kind "${kind}" in version "${apiVersion}"${hint ? ` (did you mean "${hint}"?)` : ''}`,
      );
      continue;
    }
    if (!info) {
      const key = `${apiVersion}/${kind}`;
      const seenKind = ignored.get(key);
      if (seenKind) seenKind.count++;
      else ignored.set(key, { kind, apiVersion, count: 1, origin: raw.origin });
      continue;
    }
    if (!info.apiVersions.includes(apiVersion)) {
      f0.error(
        ['apiVersion'],
        `"${apiVersion}" is not served for ${kind}; use ${info.apiVersions.join(' or ')}`,
      );
      continue;
    }
    const refName = String((raw.body.metadata as { name?: unknown } | undefined)?.name ?? '');
    const givenNs = (raw.body.metadata as { namespace?: unknown } | undefined)?.namespace;
    const defaultNs = opts.namespace ?? 'default';
    const refNs = info.namespaced ? String(givenNs ?? defaultNs) : undefined;
    const ref: ObjectRef =
      refNs !== undefined ? { kind, namespace: refNs, name: refName } : { kind, name: refName };
    const f = new Fields(raw.body, raw.origin, ref, report);
    if (
      info.namespaced &&
      opts.namespace !== undefined &&
      typeof givenNs === 'string' &&
      givenNs !== '' &&
      givenNs !== opts.namespace
    ) {
      // kubectl's words (cli-runtime resource/visitor.go, ValidateNamespace).
      f.error(
        ['metadata', 'namespace'],
        `the namespace from the provided object "${givenNs}" does not match the namespace "${opts.namespace}". You must pass '--namespace=${givenNs}' to perform this operation`,
      );
      continue;
    }
    const meta = decodeMeta(f, kind, { ...info, defaultNamespace: defaultNs });
    if (meta.name) {
      const key = `${kind}/${meta.namespace}/${meta.name}`;
      const prev = seen.get(key);
      if (prev) {
        f.error(
          ['metadata', 'name'],
          `duplicate ${kind} "${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}" (first defined at ${prev})`,
        );
        continue;
      }
      const p = raw.origin.locate([]);
      seen.set(key, `${p.file}:${p.line}:${p.col}`);
    }
    const schema = KIND_SCHEMAS[kind];
    if (schema) checkUnknownFields(f, schema, raw.body);
    switch (kind) {
      case 'Namespace':
        out.namespaces.push({
          kind: 'Namespace',
          meta: withNamespaceNameLabel(meta),
          raw: raw.body,
          derived: false,
        });
        break;
      case 'Node':
        out.nodes.push(decodeNode(f, meta));
        break;
      case 'Pod':
        out.pods.push(decodePod(f, meta));
        break;
      case 'Service':
        out.services.push(decodeService(f, meta));
        break;
      case 'Endpoints':
        out.slices.push(...decodeEndpoints(f, meta));
        break;
      case 'EndpointSlice':
        out.slices.push(decodeEndpointSlice(f, meta));
        break;
      case 'Deployment':
      case 'ReplicaSet':
      case 'StatefulSet':
      case 'DaemonSet':
        out.workloads.push(decodeWorkload(f, meta, kind));
        break;
      case 'NetworkPolicy':
        out.policies.push(decodeNetworkPolicy(f, meta));
        break;
    }
  }
  // Kinds kpath does not model: one warning per kind, at its first object.
  for (const { kind, apiVersion, count, origin } of ignored.values()) {
    const objects = `${count} object${count === 1 ? '' : 's'}`;
    const what = isBuiltinGroup(groupOf(apiVersion))
      ? `${kind} (${apiVersion}) does not change the network kpath models`
      : `${kind} (${apiVersion}) is a custom resource kpath does not know`;
    report.warning(origin, undefined, [], `${what}; ignored ${objects} of this kind`);
  }
  return out;
}
