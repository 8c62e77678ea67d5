/**
 * Workloads -> pods, named as Kubernetes names them:
 *   Deployment  -> ReplicaSet <deploy>-<pod-template-hash> -> pods <rs>-<5 chars>
 *   ReplicaSet  -> pods <rs>-<5 chars>
 *   StatefulSet -> pods <sts>-0 .. <sts>-(n-1), hostname = pod name, subdomain = serviceName
 *   DaemonSet   -> one pod <ds>-<5 chars> per eligible node (placed by the scheduler)
 * The 5-character suffixes come from a hash of the owner and the replica index, so identical input
 * gives identical names. pod-template-hash has Kubernetes' shape (FNV-1a, safe alphabet) but is taken
 * over kpath's canonical JSON of the template, not Go's struct dump, so values differ from a real cluster.
 */

import { decodePodSpec } from './decode-pod.js';
import { Reporter } from './diagnostics.js';
import { Fields } from './fields.js';
import { podTemplateHash, randomSuffix, uidFor } from './hash.js';
import type { Meta, Pod, Workload } from './objects.js';

interface TemplateMeta {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A pod made from a workload's template: the template's spec, Running and Ready, owned by `owner`. */
function templatePod(
  w: Workload,
  name: string,
  labels: Record<string, string>,
  owner: { kind: string; name: string; uid: string },
  extra: Partial<Pod> = {},
): Pod {
  const tmplMeta = (w.template.metadata ?? {}) as TemplateMeta;
  // The template was validated when the workload was decoded; decode it again silently for the spec.
  const spec = decodePodSpec(
    new Fields(w.template, undefined, { kind: w.kind, name: w.meta.name }, new Reporter()),
  );
  const meta: Meta = {
    name,
    namespace: w.meta.namespace,
    labels,
    annotations: { ...(tmplMeta.annotations ?? {}) },
    uid: uidFor(`Pod/${w.meta.namespace}/${name}`),
    ownerReferences: [{ ...owner, controller: true }],
  };
  return {
    kind: 'Pod',
    meta,
    ...spec,
    phase: 'Running',
    ready: true,
    podIPs: [],
    terminating: false,
    raw: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...((w.template.metadata as object) ?? {}) },
      spec: w.template.spec ?? {},
    },
    derived: true,
    ...extra,
  };
}

/**
 * Names of pods deleted through the API, kept on the workload so its controller replaces each with a
 * new name (StatefulSet pods keep their name and get a new uid), as Kubernetes' controllers do.
 * The API server writes it; it is never shown.
 */
export const DELETED_PODS_ANNOTATION = 'kpath.dev/deleted-pods';

function deletedPods(w: Workload): string[] {
  const v = w.meta.annotations[DELETED_PODS_ANNOTATION];
  return v ? v.split(',').filter(Boolean) : [];
}

export function expandWorkload(w: Workload): Pod[] {
  const deleted = deletedPods(w);
  const tmplMeta = (w.template.metadata ?? {}) as TemplateMeta;
  const ns = w.meta.namespace;
  const makePod = (
    name: string,
    labels: Record<string, string>,
    owner: { kind: string; name: string; uid: string },
    extra: Partial<Pod> = {},
  ) => templatePod(w, name, labels, owner, extra);
  const baseLabels = { ...(tmplMeta.labels ?? {}) };
  const pods: Pod[] = [];
  switch (w.kind) {
    case 'Deployment': {
      const hash = podTemplateHash(w.template);
      const rsName = `${w.meta.name}-${hash}`;
      const rsUid = uidFor(`ReplicaSet/${ns}/${rsName}`);
      const labels = { ...baseLabels, 'pod-template-hash': hash };
      for (let i = 0; i < w.replicas; i++) {
        pods.push(
          makePod(uniqueName(rsName, i, pods, deleted), labels, {
            kind: 'ReplicaSet',
            name: rsName,
            uid: rsUid,
          }),
        );
      }
      break;
    }
    case 'ReplicaSet': {
      for (let i = 0; i < w.replicas; i++) {
        pods.push(
          makePod(uniqueName(w.meta.name, i, pods, deleted), baseLabels, {
            kind: 'ReplicaSet',
            name: w.meta.name,
            uid: w.meta.uid,
          }),
        );
      }
      break;
    }
    case 'StatefulSet': {
      const revision = `${w.meta.name}-${podTemplateHash(w.template)}`;
      for (let i = 0; i < w.replicas; i++) {
        const name = `${w.meta.name}-${i}`;
        const labels = {
          ...baseLabels,
          'apps.kubernetes.io/pod-index': String(i),
          'controller-revision-hash': revision,
          'statefulset.kubernetes.io/pod-name': name,
        };
        pods.push(
          recreated(
            makePod(
              name,
              labels,
              { kind: 'StatefulSet', name: w.meta.name, uid: w.meta.uid },
              {
                hostname: name,
                ...(w.serviceName ? { subdomain: w.serviceName } : {}),
              },
            ),
            deleted,
          ),
        );
      }
      break;
    }
    case 'DaemonSet':
      // Placed per node by the scheduler (daemonSetPods).
      break;
  }
  return pods;
}

/** `<base>-<5 safe chars>`, re-drawn on the (unlikely) collision with a sibling or a deleted pod. */
function uniqueName(
  base: string,
  index: number,
  siblings: readonly Pod[],
  deleted: readonly string[],
): string {
  for (let attempt = 0; ; attempt++) {
    const name = `${base}-${randomSuffix(`${base}#${index}#${attempt}`)}`;
    if (!siblings.some((p) => p.meta.name === name) && !deleted.includes(name)) return name;
  }
}

/** A StatefulSet pod deleted k times comes back under its name with a new uid. */
function recreated(p: Pod, deleted: readonly string[]): Pod {
  const k = deleted.filter((d) => d === p.meta.name).length;
  if (k === 0) return p;
  return { ...p, meta: { ...p.meta, uid: uidFor(`Pod/${p.meta.namespace}/${p.meta.name}#${k}`) } };
}

/** Tolerations the DaemonSet controller adds to every daemon pod. */
export const DAEMONSET_TOLERATIONS = [
  { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute' },
  { key: 'node.kubernetes.io/disk-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/memory-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/pid-pressure', operator: 'Exists', effect: 'NoSchedule' },
  { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' },
] as const;

export function daemonSetPod(w: Workload, nodeName: string): Pod {
  const tmplMeta = (w.template.metadata ?? {}) as TemplateMeta;
  const deleted = deletedPods(w);
  let name = `${w.meta.name}-${randomSuffix(`${w.meta.namespace}/${w.meta.name}@${nodeName}`)}`;
  for (let attempt = 1; deleted.includes(name); attempt++) {
    name = `${w.meta.name}-${randomSuffix(`${w.meta.namespace}/${w.meta.name}@${nodeName}#${attempt}`)}`;
  }
  const labels = {
    ...(tmplMeta.labels ?? {}),
    'controller-revision-hash': podTemplateHash(w.template),
    'pod-template-generation': '1',
  };
  const pod = templatePod(
    w,
    name,
    labels,
    { kind: 'DaemonSet', name: w.meta.name, uid: w.meta.uid },
    { nodeName },
  );
  return { ...pod, tolerations: [...pod.tolerations, ...DAEMONSET_TOLERATIONS] };
}
