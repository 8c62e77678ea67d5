/**
 * Pod-to-pod reachability under NetworkPolicy for one port and protocol: the truth table the
 * sig-network e2e suite prints (test/e2e/network/netpol/truthtable.go PrettyPrint: a header row
 * `-` then the destinations, one row per source, tab-separated, `.` allowed and `X` blocked).
 */
import type { Pod, Protocol } from '../cluster/index.js';
import type { PolicyEngine } from './engine.js';

export interface Matrix {
  readonly port: number;
  readonly protocol: Protocol;
  /** `namespace/name`, sorted. */
  readonly pods: readonly string[];
  /** allowed[from][to]. */
  readonly allowed: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
}

/** Pods with an address and their own network namespace, sorted by namespace/name. */
export function matrixPods(pods: readonly Pod[]): Pod[] {
  return pods
    .filter((p) => !p.hostNetwork && p.podIPs.length > 0)
    .sort((a, b) => {
      const ka = `${a.meta.namespace}/${a.meta.name}`;
      const kb = `${b.meta.namespace}/${b.meta.name}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
}

export function reachability(
  engine: PolicyEngine,
  pods: readonly Pod[],
  port: number,
  protocol: Protocol,
): Matrix {
  const list = matrixPods(pods);
  const names = list.map((p) => `${p.meta.namespace}/${p.meta.name}`);
  const allowed: Record<string, Record<string, boolean>> = {};
  list.forEach((from, i) => {
    const row: Record<string, boolean> = {};
    const src = { ip: from.podIPs[0]!, pod: from };
    list.forEach((to, j) => {
      const ip = to.podIPs.find((x) => x.family === src.ip.family);
      row[names[j]!] = ip ? engine.allows({ src, dst: { ip, pod: to }, port, protocol }) : false;
    });
    allowed[names[i]!] = row;
  });
  return { port, protocol, pods: names, allowed };
}

/** The e2e suite's PrettyPrint. */
export function truthTable(m: Matrix): string {
  const lines = [['-', ...m.pods].join('\t')];
  for (const from of m.pods) {
    lines.push([from, ...m.pods.map((to) => (m.allowed[from]?.[to] ? '.' : 'X'))].join('\t'));
  }
  return `${lines.join('\n')}\n`;
}
