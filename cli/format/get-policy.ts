/** `kpath get namespaces` and `kpath get networkpolicies` with kubectl's columns. */
import { formatSelector, type Namespace, type NetworkPolicy } from '../../netmodel/cluster/index.js';
import type { TableOpts } from './get-tables.js';
import { renderTable } from './table.js';

/** kubectl's LABELS cell: `k=v` pairs sorted by key, joined by commas; `<none>` when empty. */
export function labelsCell(labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  return keys.length ? keys.map((k) => `${k}=${labels[k]}`).join(',') : '<none>';
}

export function namespacesTable(namespaces: readonly Namespace[], showLabels: boolean): string {
  return renderTable(
    ['NAME', 'STATUS', 'AGE', ...(showLabels ? ['LABELS'] : [])],
    namespaces.map((n) => [
      n.meta.name,
      'Active',
      '<unknown>',
      ...(showLabels ? [labelsCell(n.meta.labels)] : []),
    ]),
  );
}

/** NAME, POD-SELECTOR, AGE (kubectl's printers for networking/v1 NetworkPolicy). */
export function networkPoliciesTable(
  policies: readonly NetworkPolicy[],
  opts: TableOpts & { showLabels?: boolean },
): string {
  return renderTable(
    [
      ...(opts.allNamespaces ? ['NAMESPACE'] : []),
      'NAME',
      'POD-SELECTOR',
      'AGE',
      ...(opts.showLabels ? ['LABELS'] : []),
    ],
    policies.map((p) => [
      ...(opts.allNamespaces ? [p.meta.namespace] : []),
      p.meta.name,
      formatSelector(p.podSelector),
      '<unknown>',
      ...(opts.showLabels ? [labelsCell(p.meta.labels)] : []),
    ]),
  );
}
