/**
 * Workloads as `kpath get` shows them: Deployments, StatefulSets, DaemonSets and ReplicaSets (given,
 * or made by a Deployment, named `<deploy>-<pod-template-hash>` as the deployment controller names
 * them), each with the pods it owns and the status counts a controller would report.
 */
import {
  type ClusterSnapshot,
  type LabelSelector,
  type Meta,
  type Pod,
  podTemplateHash,
  uidFor,
  type Workload,
  type WorkloadKind,
} from '../../netmodel/cluster/index.js';

export interface WorkloadView {
  readonly kind: WorkloadKind;
  readonly meta: Meta;
  readonly replicas: number;
  readonly selector: LabelSelector;
  readonly template: Record<string, unknown>;
  readonly raw: Record<string, unknown>;
  /** The pods it owns (for a Deployment, through its ReplicaSet). */
  readonly pods: readonly Pod[];
}

function ownedBy(snap: ClusterSnapshot, ns: string, kind: string, name: string): Pod[] {
  return snap.pods.filter(
    (p) =>
      p.meta.namespace === ns &&
      (p.meta.ownerReferences ?? []).some((o) => o.kind === kind && o.name === name),
  );
}

function view(snap: ClusterSnapshot, w: Workload): WorkloadView {
  const ns = w.meta.namespace;
  const rsName = w.kind === 'Deployment' ? `${w.meta.name}-${podTemplateHash(w.template)}` : undefined;
  const pods =
    w.kind === 'Deployment'
      ? ownedBy(snap, ns, 'ReplicaSet', rsName!)
      : ownedBy(snap, ns, w.kind, w.meta.name);
  return { ...w, pods };
}

export function workloadsOf(snap: ClusterSnapshot, kind: WorkloadKind): WorkloadView[] {
  const own = snap.workloads.filter((w) => w.kind === kind).map((w) => view(snap, w));
  if (kind !== 'ReplicaSet') return own;
  // Each Deployment's current ReplicaSet, as the deployment controller writes it.
  const made = snap.workloads
    .filter((w) => w.kind === 'Deployment')
    .map((d): WorkloadView => {
      const hash = podTemplateHash(d.template);
      const name = `${d.meta.name}-${hash}`;
      const tmplMeta = (d.template.metadata ?? {}) as { labels?: Record<string, string> };
      const labels = { ...(tmplMeta.labels ?? {}), 'pod-template-hash': hash };
      const meta: Meta = {
        name,
        namespace: d.meta.namespace,
        labels,
        annotations: {},
        uid: uidFor(`ReplicaSet/${d.meta.namespace}/${name}`),
        ownerReferences: [{ kind: 'Deployment', name: d.meta.name, uid: d.meta.uid, controller: true }],
      };
      const selector = {
        matchLabels: { ...d.selector.matchLabels, 'pod-template-hash': hash },
        matchExpressions: d.selector.matchExpressions,
      };
      const template = { ...d.template, metadata: { ...(tmplMeta as object), labels } };
      const raw = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {},
        spec: { replicas: d.replicas, selector, template },
      };
      return {
        kind: 'ReplicaSet',
        meta,
        replicas: d.replicas,
        selector,
        template,
        raw,
        pods: ownedBy(snap, d.meta.namespace, 'ReplicaSet', name),
      };
    });
  return [...own, ...made];
}

export function readyCount(pods: readonly Pod[]): number {
  return pods.filter((p) => p.ready && p.phase === 'Running' && !p.terminating).length;
}

/** The template's containers: names and images. */
export function templateContainers(w: {
  template: Record<string, unknown>;
}): { name: string; image: string }[] {
  const spec = (w.template.spec ?? {}) as { containers?: { name?: string; image?: string }[] };
  return (spec.containers ?? []).map((c) => ({ name: c.name ?? '', image: c.image ?? '' }));
}

/** The `status` block a controller would write for this workload. */
export function workloadStatus(w: WorkloadView): Record<string, number> {
  const ready = readyCount(w.pods);
  const n = w.pods.length;
  switch (w.kind) {
    case 'DaemonSet':
      return {
        currentNumberScheduled: n,
        desiredNumberScheduled: n,
        numberAvailable: ready,
        numberMisscheduled: 0,
        numberReady: ready,
        updatedNumberScheduled: n,
      };
    case 'ReplicaSet':
      return { availableReplicas: ready, fullyLabeledReplicas: n, readyReplicas: ready, replicas: n };
    default:
      return {
        availableReplicas: ready,
        currentReplicas: n,
        readyReplicas: ready,
        replicas: n,
        updatedReplicas: n,
      };
  }
}
