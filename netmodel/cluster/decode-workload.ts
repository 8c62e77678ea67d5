/** Deployment, ReplicaSet, StatefulSet, DaemonSet: replicas, selector, template. */

import { decodePodSpec } from './decode-pod.js';
import type { Fields } from './fields.js';
import { qualifiedName } from './names.js';
import type { LabelSelector, LabelSelectorRequirement, Meta, Workload, WorkloadKind } from './objects.js';
import { formatSelector, isEmptySelector, matchesSelector } from './selector.js';

export function decodeLabelSelector(f: Fields, path: (string | number)[]): LabelSelector {
  const sel = f.at(path);
  const matchLabels = sel.strMap(['matchLabels']) ?? {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  (sel.array(['matchExpressions']) ?? []).forEach((_, i) => {
    const e = sel.at(['matchExpressions', i]);
    const key = e.str(['key']);
    if (!key) e.error(['key'], 'required: a label key');
    else {
      const ke = qualifiedName(key);
      if (ke) e.error(['key'], `invalid label key "${key}": ${ke}`);
    }
    const operator = e.oneOf(['operator'], ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const);
    if (!operator && !e.has(['operator']))
      e.error(['operator'], 'required: In, NotIn, Exists or DoesNotExist');
    const values = e.strArray(['values']) ?? [];
    if ((operator === 'In' || operator === 'NotIn') && values.length === 0) {
      e.error(['values'], `must be non-empty when operator is ${operator}`);
    }
    if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
      e.error(['values'], `must be empty when operator is ${operator}`);
    }
    if (key && operator) matchExpressions.push({ key, operator, values });
  });
  return { matchLabels, matchExpressions };
}

export function decodeWorkload(f: Fields, meta: Meta, kind: WorkloadKind): Workload {
  const s = f.at(['spec']);
  const replicas = kind === 'DaemonSet' ? 0 : (s.int(['replicas'], { min: 0, max: 10000 }) ?? 1);
  if (!s.has(['selector']))
    s.error(['selector'], 'required: a selector (apps/v1 does not default it from the template labels)');
  const selector = decodeLabelSelector(s, ['selector']);
  if (s.has(['selector']) && isEmptySelector(selector))
    s.error(['selector'], 'must not be empty (it would match every pod)');
  const t = s.at(['template']);
  if (!s.has(['template'])) s.error(['template'], 'required: a pod template');
  const templateLabels = t.strMap(['metadata', 'labels']) ?? {};
  if (s.has(['selector']) && !isEmptySelector(selector) && !matchesSelector(selector, templateLabels)) {
    t.error(['metadata', 'labels'], `selector (${formatSelector(selector)}) does not match template labels`);
  }
  // Validate the template as a pod spec now so errors point into it.
  const spec = decodePodSpec(t);
  if (spec.restartPolicy !== 'Always')
    t.error(['spec', 'restartPolicy'], `unsupported value "${spec.restartPolicy}": workloads need "Always"`);
  const serviceName = kind === 'StatefulSet' ? s.str(['serviceName']) : undefined;
  if (kind === 'StatefulSet' && !serviceName) {
    s.warning(['serviceName'], 'no governing headless service: pods get no stable DNS names');
  }
  return {
    kind,
    meta,
    replicas,
    selector,
    template: t.body,
    raw: f.body,
    ...(serviceName ? { serviceName } : {}),
  };
}
