/**
 * Label selectors, one implementation for every user: Service selectors (equality only, as a map),
 * workload selectors (matchLabels + matchExpressions), node selectors, NetworkPolicy later.
 * Semantics follow k8s.io/apimachinery/pkg/labels: all requirements ANDed; an empty selector matches
 * everything; In/NotIn with values; NotIn and DoesNotExist match objects without the key.
 */
import type { LabelSelector, LabelSelectorRequirement } from './objects.js';

export type Labels = Readonly<Record<string, string>>;

export function matchesRequirement(r: LabelSelectorRequirement, labels: Labels): boolean {
  const has = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      return has && r.values.includes(labels[r.key]!);
    case 'NotIn':
      return !has || !r.values.includes(labels[r.key]!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
  }
}

export function matchesSelector(sel: LabelSelector, labels: Labels): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  for (const r of sel.matchExpressions) if (!matchesRequirement(r, labels)) return false;
  return true;
}

/** A Service-style selector (a plain map). An empty map matches nothing for a Service; callers decide. */
export function selectorFromMap(m: Labels): LabelSelector {
  return { matchLabels: m, matchExpressions: [] };
}

export function isEmptySelector(sel: LabelSelector): boolean {
  return Object.keys(sel.matchLabels).length === 0 && sel.matchExpressions.length === 0;
}

/** kubectl's rendering: `app=web,tier in (a,b),!legacy`. */
export function formatSelector(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of sel.matchExpressions) {
    switch (r.operator) {
      case 'In':
        parts.push(`${r.key} in (${[...r.values].sort().join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${r.key} notin (${[...r.values].sort().join(',')})`);
        break;
      case 'Exists':
        parts.push(r.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${r.key}`);
        break;
    }
  }
  return parts.length ? parts.join(',') : '<none>';
}
