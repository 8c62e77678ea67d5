/**
 * A cluster snapshot -> the objects the API serves, shaped as the apiserver returns them: what was
 * written, plus what kpath derived (cluster IPs, node ports, scheduled nodes, pod IPs, status) and the
 * objects controllers would have made (the ReplicaSets of Deployments, their pods, EndpointSlices,
 * Endpoints). resourceVersion, generation and missing creationTimestamps are the cache's (cache.ts).
 */
import {
  type ClusterSnapshot,
  DELETED_PODS_ANNOTATION,
  deriveEndpointsSubsets,
  type EndpointSlice,
  endpointSliceBodyJson,
  type Meta,
  matchesSelector,
  type Node,
  type Pod,
  podTemplateHash,
  type Service,
  serviceSpecJson,
  serviceStatusJson,
  uidFor,
  type Workload,
} from '../../netmodel/cluster/index.js';
import { RESOURCES, type ResourceInfo, resourceId } from './resources.js';

export type Obj = Record<string, unknown>;

export interface Rendered {
  readonly obj: Obj;
  /** Made by a controller from another object; writes other than delete are refused. */
  readonly derived: boolean;
  /** The object a derived one comes from (`apps/deployments/default/web`), for deleting derived pods. */
  readonly owner?: string;
}

/** What the runtime knows of a pod's running containers (kpath up's PodManager). */
export interface LiveContainer {
  readonly name: string;
  readonly state: 'running' | 'waiting' | 'terminated';
  readonly ready: boolean;
  readonly restarts: number;
  readonly lastExit?: string;
}

/** `ns/name` -> the pod's containers as they run; undefined for pods not started. */
export type LivePods = (podKey: string) => readonly LiveContainer[] | undefined;

/** resource id -> object key (`ns/name` or `name`) -> object. */
export type RenderedCluster = Map<string, Map<string, Rendered>>;

export function objKey(namespace: string, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function rawMeta(raw: Obj): Obj {
  const m = raw.metadata;
  return m && typeof m === 'object' && !Array.isArray(m) ? clone(m as Obj) : {};
}

function ownerApiVersion(kind: string): string {
  return kind === 'Service' || kind === 'Node' ? 'v1' : 'apps/v1';
}

function metaOut(m: Meta, raw: Obj): Obj {
  const out: Obj = { ...rawMeta(raw) };
  out.name = m.name;
  if (m.namespace) out.namespace = m.namespace;
  else delete out.namespace;
  if (Object.keys(m.labels).length) out.labels = { ...m.labels };
  else delete out.labels;
  const annotations: Record<string, string> = { ...m.annotations };
  delete annotations[DELETED_PODS_ANNOTATION];
  if (Object.keys(annotations).length) out.annotations = annotations;
  else delete out.annotations;
  out.uid = m.uid;
  delete out.resourceVersion;
  delete out.generation;
  if (m.ownerReferences?.length) {
    out.ownerReferences = m.ownerReferences.map((o) => ({
      apiVersion: ownerApiVersion(o.kind),
      kind: o.kind,
      name: o.name,
      uid: o.uid,
      controller: o.controller,
      blockOwnerDeletion: true,
    }));
  }
  if (m.creationTimestamp) out.creationTimestamp = m.creationTimestamp;
  return out;
}

/**
 * The apiserver's defaults for a pod's spec that kubectl shows (port protocol, pull policy). Pods
 * only: a workload's template is served as stored, since the pod-template-hash is taken over it.
 */
function defaultPodSpec(spec: unknown): void {
  if (!spec || typeof spec !== 'object') return;
  const s = spec as Obj;
  for (const list of [s.containers, s.initContainers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list as Obj[]) {
      if (!c || typeof c !== 'object') continue;
      if (Array.isArray(c.ports))
        for (const p of c.ports as Obj[]) if (p && typeof p === 'object') p.protocol ??= 'TCP';
      const image = typeof c.image === 'string' ? c.image : '';
      c.imagePullPolicy ??= image.endsWith(':latest') || !/:[^/]+$/.test(image) ? 'Always' : 'IfNotPresent';
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      c.resources ??= {};
    }
  }
  s.restartPolicy ??= 'Always';
  s.dnsPolicy ??= 'ClusterFirst';
  s.schedulerName ??= 'default-scheduler';
  s.terminationGracePeriodSeconds ??= 30;
  s.securityContext ??= {};
}

function withoutMeta(raw: Obj): Obj {
  const { apiVersion: _a, kind: _k, metadata: _m, status: _s, ...rest } = clone(raw);
  return rest;
}

function podOut(p: Pod, snap: ClusterSnapshot, liveOf?: LivePods): Obj {
  const raw = p.raw;
  const spec: Obj = { ...((clone(raw.spec) as Obj | undefined) ?? {}) };
  defaultPodSpec(spec);
  if (p.nodeName) spec.nodeName = p.nodeName;
  if (p.hostname && !spec.hostname) spec.hostname = p.hostname;
  if (p.subdomain && !spec.subdomain) spec.subdomain = p.subdomain;
  spec.restartPolicy = p.restartPolicy;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  if (p.tolerations.length) spec.tolerations = p.tolerations.map((t) => ({ ...t }));
  const node = p.nodeName ? snap.node(p.nodeName) : undefined;
  const running = p.phase === 'Running';
  const ready = running && p.ready;
  const started = p.meta.creationTimestamp;
  const cond = (type: string, ok: boolean) => ({
    type,
    status: ok ? 'True' : 'False',
    lastProbeTime: null,
    ...(started ? { lastTransitionTime: started } : {}),
  });
  const status: Obj = {
    phase: p.terminating ? p.phase : p.phase,
    conditions: [
      cond('PodReadyToStartContainers', running),
      cond('Initialized', true),
      cond('Ready', ready),
      cond('ContainersReady', ready),
      cond('PodScheduled', p.nodeName !== null),
    ],
    qosClass: 'BestEffort',
  };
  if (node?.internalIPs[0]) {
    status.hostIP = node.internalIPs[0].text;
    status.hostIPs = node.internalIPs.map((ip) => ({ ip: ip.text }));
  }
  if (p.podIPs.length) {
    status.podIP = p.podIPs[0]!.text;
    status.podIPs = p.podIPs.map((ip) => ({ ip: ip.text }));
  }
  if (started) status.startTime = started;
  const live = liveOf?.(`${p.meta.namespace}/${p.meta.name}`);
  status.containerStatuses = p.containers.map((c) => {
    const l = live?.find((x) => x.name === c.name);
    const restartCount = l?.restarts ?? 0;
    let state: Obj = running
      ? { running: started ? { startedAt: started } : {} }
      : { waiting: { reason: 'Pending' } };
    if (l && l.state !== 'running') {
      state =
        l.state === 'waiting'
          ? { waiting: { reason: restartCount > 0 ? 'CrashLoopBackOff' : 'ContainerCreating' } }
          : { terminated: { reason: 'Error', ...(l.lastExit ? { message: l.lastExit } : {}) } };
    }
    return {
      name: c.name,
      image: c.image,
      imageID: '',
      ready: l ? l.ready && ready : ready,
      restartCount,
      started: l ? l.state === 'running' : running,
      state,
    };
  });
  return { apiVersion: 'v1', kind: 'Pod', metadata: metaOut(p.meta, raw), spec, status };
}

function serviceOut(s: Service): Obj {
  const spec = serviceSpecJson(s, clone(s.raw.spec) as Obj | undefined);
  const status: Obj = serviceStatusJson(s);
  return { apiVersion: 'v1', kind: 'Service', metadata: metaOut(s.meta, s.raw), spec, status };
}

function nodeOut(n: Node): Obj {
  const spec: Obj = { ...((clone(n.raw.spec) as Obj | undefined) ?? {}) };
  if (n.podCIDRs.length) {
    spec.podCIDR = n.podCIDRs[0]!.text;
    spec.podCIDRs = n.podCIDRs.map((p) => p.text);
  }
  if (n.unschedulable) spec.unschedulable = true;
  if (n.taints.length) spec.taints = n.taints.map((t) => ({ ...t }));
  const status: Obj = { ...((clone(n.raw.status) as Obj | undefined) ?? {}) };
  status.addresses = n.addresses.map((a) => ({ ...a }));
  status.conditions = [
    {
      type: 'Ready',
      status: n.ready ? 'True' : 'False',
      reason: n.ready ? 'KubeletReady' : 'KubeletNotReady',
      message: n.ready ? 'kubelet is posting ready status' : 'node is not ready',
    },
  ];
  status.nodeInfo ??= {
    architecture: 'amd64',
    containerRuntimeVersion: 'kpath://0.1.0',
    kernelVersion: '',
    kubeProxyVersion: '',
    kubeletVersion: 'v1.32.0-kpath',
    operatingSystem: 'linux',
    osImage: 'kpath (emulated)',
  };
  const meta = metaOut(n.meta, n.raw);
  const labels = (meta.labels as Record<string, string> | undefined) ?? {};
  meta.labels = {
    'kubernetes.io/hostname': n.meta.name,
    'kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    ...labels,
  };
  return { apiVersion: 'v1', kind: 'Node', metadata: meta, spec, status };
}

function sliceOut(s: EndpointSlice): Obj {
  const meta = metaOut(s.meta, s.raw);
  if (s.source === 'controller' || s.source === 'mirror') {
    const labels = { ...((meta.labels as Record<string, string> | undefined) ?? {}) };
    labels['kubernetes.io/service-name'] = s.serviceName;
    meta.labels = labels;
  }
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: meta,
    ...endpointSliceBodyJson(s),
  };
}

/** core/v1 Endpoints as the endpoints controller writes them from the same endpoints (netmodel/cluster). */
function endpointsOut(svc: Service, slices: readonly EndpointSlice[], given?: Obj): Obj {
  const meta: Obj = given
    ? rawMeta(given)
    : {
        name: svc.meta.name,
        namespace: svc.meta.namespace,
        uid: uidFor(`Endpoints/${svc.meta.namespace}/${svc.meta.name}`),
        ...(Object.keys(svc.meta.labels).length ? { labels: { ...svc.meta.labels } } : {}),
        ...(svc.meta.creationTimestamp ? { creationTimestamp: svc.meta.creationTimestamp } : {}),
      };
  delete meta.resourceVersion;
  const list = deriveEndpointsSubsets(svc, slices) as unknown as Obj[];
  return { apiVersion: 'v1', kind: 'Endpoints', metadata: meta, ...(list.length ? { subsets: list } : {}) };
}

function podsOf(snap: ClusterSnapshot, ownerKind: string, ownerName: string, ns: string): Pod[] {
  return snap.pods.filter(
    (p) =>
      p.meta.namespace === ns &&
      p.meta.ownerReferences?.some((o) => o.kind === ownerKind && o.name === ownerName),
  );
}

function readyCount(pods: readonly Pod[]): number {
  return pods.filter((p) => p.phase === 'Running' && p.ready && !p.terminating).length;
}

function workloadOut(w: Workload, snap: ClusterSnapshot): Obj {
  const spec: Obj = { ...((clone(w.raw.spec) as Obj | undefined) ?? {}) };
  const ns = w.meta.namespace;
  const status: Obj = {};
  switch (w.kind) {
    case 'Deployment': {
      spec.replicas = w.replicas;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
      const rs = `${w.meta.name}-${podTemplateHash(w.template)}`;
      const pods = podsOf(snap, 'ReplicaSet', rs, ns);
      const ready = readyCount(pods);
      if (w.replicas > 0 || pods.length) {
        Object.assign(status, {
          replicas: pods.length,
          updatedReplicas: pods.length,
          readyReplicas: ready,
          availableReplicas: ready,
        });
        if (pods.length - ready > 0) status.unavailableReplicas = pods.length - ready;
        for (const k of ['readyReplicas', 'availableReplicas', 'replicas', 'updatedReplicas'])
          if (status[k] === 0) delete status[k];
      }
      status.conditions = [
        {
          type: 'Available',
          status: ready >= w.replicas ? 'True' : 'False',
          reason: ready >= w.replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          message:
            ready >= w.replicas
              ? 'Deployment has minimum availability.'
              : 'Deployment does not have minimum availability.',
        },
        {
          type: 'Progressing',
          status: 'True',
          reason: 'NewReplicaSetAvailable',
          message: `ReplicaSet "${rs}" has successfully progressed.`,
        },
      ];
      break;
    }
    case 'ReplicaSet': {
      spec.replicas = w.replicas;
      const pods = podsOf(snap, 'ReplicaSet', w.meta.name, ns);
      const ready = readyCount(pods);
      status.replicas = pods.length;
      status.fullyLabeledReplicas = pods.length;
      if (ready) {
        status.readyReplicas = ready;
        status.availableReplicas = ready;
      }
      break;
    }
    case 'StatefulSet': {
      spec.replicas = w.replicas;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
      const pods = podsOf(snap, 'StatefulSet', w.meta.name, ns);
      const ready = readyCount(pods);
      const rev = `${w.meta.name}-${podTemplateHash(w.template)}`;
      Object.assign(status, {
        replicas: pods.length,
        readyReplicas: ready,
        currentReplicas: pods.length,
        updatedReplicas: pods.length,
        availableReplicas: ready,
        currentRevision: rev,
        updateRevision: rev,
        collisionCount: 0,
      });
      break;
    }
    case 'DaemonSet': {
      spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
      const pods = podsOf(snap, 'DaemonSet', w.meta.name, ns);
      const ready = readyCount(pods);
      Object.assign(status, {
        currentNumberScheduled: pods.length,
        desiredNumberScheduled: pods.length,
        numberMisscheduled: 0,
        numberReady: ready,
        numberAvailable: ready,
        updatedNumberScheduled: pods.length,
      });
      if (pods.length - ready > 0) status.numberUnavailable = pods.length - ready;
      break;
    }
  }
  return { apiVersion: 'apps/v1', kind: w.kind, metadata: metaOut(w.meta, w.raw), spec, status };
}

/** The ReplicaSet a Deployment's controller would have made (kpath keeps only the current one). */
function deploymentReplicaSet(d: Workload, snap: ClusterSnapshot): Obj {
  const hash = podTemplateHash(d.template);
  const name = `${d.meta.name}-${hash}`;
  const ns = d.meta.namespace;
  const template = clone(d.template);
  const tmeta = ((template.metadata as Obj | undefined) ?? {}) as Obj;
  tmeta.labels = { ...((tmeta.labels as Obj | undefined) ?? {}), 'pod-template-hash': hash };
  template.metadata = tmeta;
  const matchLabels = { ...d.selector.matchLabels, 'pod-template-hash': hash };
  const pods = podsOf(snap, 'ReplicaSet', name, ns);
  const ready = readyCount(pods);
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name,
      namespace: ns,
      labels: { ...((tmeta.labels as Record<string, string>) ?? {}) },
      annotations: {
        'deployment.kubernetes.io/desired-replicas': String(d.replicas),
        'deployment.kubernetes.io/max-replicas': String(d.replicas + Math.ceil(d.replicas / 4)),
        'deployment.kubernetes.io/revision': '1',
      },
      uid: uidFor(`ReplicaSet/${ns}/${name}`),
      ...(d.meta.creationTimestamp ? { creationTimestamp: d.meta.creationTimestamp } : {}),
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: d.meta.name,
          uid: d.meta.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: d.replicas,
      selector: {
        matchLabels,
        ...(d.selector.matchExpressions.length ? { matchExpressions: d.selector.matchExpressions } : {}),
      },
      template,
    },
    status: {
      replicas: pods.length,
      fullyLabeledReplicas: pods.length,
      ...(ready ? { readyReplicas: ready, availableReplicas: ready } : {}),
    },
  };
}

function put(out: RenderedCluster, res: ResourceInfo | string, key: string, r: Rendered): void {
  const id = typeof res === 'string' ? res : resourceId(res);
  let m = out.get(id);
  if (!m) {
    m = new Map();
    out.set(id, m);
  }
  m.set(key, r);
}

const ownerIds: Record<string, string> = {
  ReplicaSet: 'apps/replicasets',
  StatefulSet: 'apps/statefulsets',
  DaemonSet: 'apps/daemonsets',
  Deployment: 'apps/deployments',
  Service: 'services',
};

/** Every object the API serves for `snap`, plus `stored` objects kept but not modelled. */
export function renderCluster(
  snap: ClusterSnapshot,
  stored: ReadonlyMap<string, ReadonlyMap<string, Obj>>,
  live?: LivePods,
): RenderedCluster {
  const out: RenderedCluster = new Map();
  for (const r of RESOURCES) out.set(resourceId(r), new Map());
  for (const n of snap.namespaces) {
    const meta = metaOut(n.meta, n.raw);
    meta.labels = { ...((meta.labels as Obj | undefined) ?? {}), 'kubernetes.io/metadata.name': n.meta.name };
    put(out, 'namespaces', n.meta.name, {
      obj: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: meta,
        spec: { finalizers: ['kubernetes'] },
        status: { phase: 'Active' },
      },
      derived: n.derived,
    });
  }
  for (const n of snap.nodes) put(out, 'nodes', n.meta.name, { obj: nodeOut(n), derived: n.derived });
  const rsOwner = new Map<string, string>();
  for (const w of snap.workloads) {
    const id = ownerIds[w.kind]!;
    put(out, id, objKey(w.meta.namespace, w.meta.name), { obj: workloadOut(w, snap), derived: false });
    if (w.kind === 'Deployment') {
      const rs = deploymentReplicaSet(w, snap);
      const name = (rs.metadata as Obj).name as string;
      const owner = `apps/deployments/${objKey(w.meta.namespace, w.meta.name)}`;
      rsOwner.set(objKey(w.meta.namespace, name), owner);
      put(out, 'apps/replicasets', objKey(w.meta.namespace, name), { obj: rs, derived: true, owner });
    }
  }
  for (const p of snap.pods) {
    let owner: string | undefined;
    const ref = p.meta.ownerReferences?.find((o) => o.controller);
    if (p.derived && ref) {
      const k = objKey(p.meta.namespace, ref.name);
      owner =
        ref.kind === 'ReplicaSet'
          ? (rsOwner.get(k) ?? `apps/replicasets/${k}`)
          : `${ownerIds[ref.kind]}/${k}`;
    }
    put(out, 'pods', objKey(p.meta.namespace, p.meta.name), {
      obj: podOut(p, snap, live),
      derived: p.derived,
      ...(owner ? { owner } : {}),
    });
  }
  const givenEndpoints = new Map<string, Obj>();
  for (const s of snap.endpointSlices) {
    const derived = s.source !== 'given';
    if (s.source === 'mirror') givenEndpoints.set(objKey(s.meta.namespace, s.serviceName), s.raw);
    put(out, 'discovery.k8s.io/endpointslices', objKey(s.meta.namespace, s.meta.name), {
      obj: sliceOut(s),
      derived,
      ...(derived ? { owner: `services/${objKey(s.meta.namespace, s.serviceName)}` } : {}),
    });
  }
  for (const s of snap.services) {
    const key = objKey(s.meta.namespace, s.meta.name);
    put(out, 'services', key, { obj: serviceOut(s), derived: false });
    if (s.type === 'ExternalName') continue;
    const given = givenEndpoints.get(key);
    put(out, 'endpoints', key, {
      obj: endpointsOut(s, snap.slicesFor(s), given),
      derived: !given,
      ...(given ? {} : { owner: `services/${key}` }),
    });
  }
  for (const np of snap.networkPolicies) {
    const obj = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: metaOut(np.meta, np.raw),
      ...withoutMeta(np.raw),
    };
    put(out, 'networking.k8s.io/networkpolicies', objKey(np.meta.namespace, np.meta.name), {
      obj,
      derived: false,
    });
  }
  for (const [id, objs] of stored) {
    for (const [key, o] of objs) put(out, id, key, { obj: clone(o as Obj), derived: false });
  }
  return out;
}

/** True if `labels` satisfy a workload's selector (exported for the scale subresource). */
export function selectorString(w: { selector: Workload['selector'] }): string {
  const parts = Object.entries(w.selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of w.selector.matchExpressions) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${e.values.join(',')})`);
  }
  return parts.join(',');
}

export { matchesSelector };
