/**
 * Test helpers for the iptables renderer: clusters shaped like kube-proxy's proxier_test.go fixtures
 * (pods 10.0.0.0/8, services 172.30.0.0/16, node test-node at 192.168.0.2), built through the real
 * YAML pipeline, and a canonical form of iptables-restore text equal to what upstream's
 * sortIPTablesRules produces, so golden text from those tests can be compared byte for byte.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { clusterCfg, node, snapshotOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;

export const TEST_NODE = 'test-node';

/** kube-proxy's fake proxier options: mark 0x4000, no --random-fully. */
export const UPSTREAM_OPTS = { masqueradeMark: '0x4000', randomFully: false } as const;

export function kpCluster(spec: Obj = {}): Obj {
  return clusterCfg({
    podCIDR: '10.0.0.0/8',
    serviceCIDR: '172.30.0.0/16',
    nodeCIDR: '192.168.0.0/24',
    nodePortRange: '3000-32767',
    ...spec,
  });
}

export function kubeProxy(cfg: Obj): Obj {
  return { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', ...cfg };
}

export function testNode(name = TEST_NODE, ip = '192.168.0.2', podCIDR?: string): Obj {
  return node(name, { ip, ...(podCIDR ? { podCIDR } : {}) });
}

/** A selector-less Service (endpoints come from `slice`). */
export function service(ns: string, name: string, spec: Obj, status?: Obj): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec,
    ...(status ? { status } : {}),
  };
}

export interface Ep {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function slice(
  ns: string,
  svcName: string,
  ports: { name?: string; port: number; protocol?: string }[],
  eps: Ep[],
  n = 1,
  addressType = 'IPv4',
): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svcName}-${n}`, namespace: ns, labels: { 'kubernetes.io/service-name': svcName } },
    addressType,
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.ready !== undefined || e.serving !== undefined || e.terminating !== undefined
        ? {
            conditions: {
              ...(e.ready !== undefined ? { ready: e.ready } : {}),
              ...(e.serving !== undefined ? { serving: e.serving } : {}),
              ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
            },
          }
        : {}),
    })),
  };
}

export function namespaces(...names: string[]): Obj[] {
  return names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
}

export function cluster(...docs: Obj[]): ClusterSnapshot {
  return snapshotOf(...docs);
}

/** Strip a golden block's indentation (Go's dedent) and the leading newline. */
export function dedent(text: string): string {
  const lines = text.replace(/^\n/, '').split('\n');
  const indents = lines.filter((l) => l.trim()).map((l) => /^\s*/.exec(l)![0].length);
  const cut = Math.min(...indents);
  return lines
    .map((l) => l.slice(cut))
    .join('\n')
    .replace(/[ \t]+$/, '');
}

interface Chain {
  name: string;
  rules: string[];
  deleted: boolean;
}

function commentOf(rule: string): string | undefined {
  const m = /--comment (?:"([^"]*)"|(\S+))/.exec(rule);
  return m ? (m[1] ?? m[2]) : undefined;
}

function svcNameOf(rule: string): string | undefined {
  const c = commentOf(rule);
  if (c === undefined) return undefined;
  const i = c.search(/[ :]/);
  return i < 0 ? c : c.slice(0, i);
}

/** Stable sort with Go's sort.SliceStable semantics for a "less" function. */
function stableSort<T>(xs: T[], less: (a: T, b: T) => boolean): T[] {
  const out = [...xs];
  // insertion sort: stable and exactly follows `less`
  for (let i = 1; i < out.length; i++) {
    const x = out[i]!;
    let j = i - 1;
    while (j >= 0 && less(x, out[j]!)) {
      out[j + 1] = out[j]!;
      j--;
    }
    out[j + 1] = x;
  }
  return out;
}

function byService(a: string, b: string): boolean {
  const x = svcNameOf(a);
  const y = svcNameOf(b);
  if (x === undefined || y === undefined) return false;
  return x < y;
}

function chainOrder(a: string, b: string): number {
  const rank = (n: string) =>
    n === 'KUBE-NODEPORTS' ? 0 : n === 'KUBE-SERVICES' ? 1 : n.startsWith('KUBE-') ? 2 : 3;
  const d = rank(a) - rank(b);
  if (d !== 0) return d;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Our restatement of upstream's sortIPTablesRules + IPTablesDump.String(): tables by name; chains
 * KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* alphabetically, then the rest; rules grouped by chain;
 * KUBE-NODEPORTS and KUBE-SERVICES rules stably ordered by the service name in their comment (nat
 * KUBE-SERVICES keeps its "must be the last rule" rule last); `-X` lines after all rules.
 */
export function canonical(restore: string): string {
  const tables: { name: string; chains: Map<string, Chain> }[] = [];
  let cur: { name: string; chains: Map<string, Chain> } | undefined;
  const chainOf = (name: string) => {
    let c = cur!.chains.get(name);
    if (!c) {
      c = { name, rules: [], deleted: false };
      cur!.chains.set(name, c);
    }
    return c;
  };
  for (const line of restore.split('\n')) {
    if (!line.trim() || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      cur = { name: line.slice(1), chains: new Map() };
      tables.push(cur);
    } else if (line.startsWith(':')) chainOf(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) chainOf(line.split(' ')[1]!).rules.push(line);
    else if (line.startsWith('-X ')) chainOf(line.split(' ')[1]!).deleted = true;
    else throw new Error(`unexpected line: ${line}`);
  }
  tables.sort((a, b) => (a.name < b.name ? -1 : 1));
  let out = '';
  for (const t of tables) {
    const chains = [...t.chains.values()].sort((a, b) => chainOrder(a.name, b.name));
    for (const c of chains) {
      if (c.name === 'KUBE-NODEPORTS') c.rules = stableSort(c.rules, byService);
      if (c.name === 'KUBE-SERVICES') {
        c.rules = stableSort(c.rules, (a, b) => {
          if (commentOf(a)?.includes('must be the last rule')) return false;
          if (commentOf(b)?.includes('must be the last rule')) return true;
          return byService(a, b);
        });
      }
    }
    out += `*${t.name}\n`;
    for (const c of chains) out += `:${c.name} - [0:0]\n`;
    for (const c of chains) for (const r of c.rules) out += `${r}\n`;
    for (const c of chains) if (c.deleted) out += `-X ${c.name}\n`;
    out += 'COMMIT\n';
  }
  return out;
}

/**
 * Our restatement of upstream's checkIPTablesRuleJumps for a full payload: every jump to a KUBE-*
 * chain targets a declared chain with rules; every declared per-service chain is jumped to and has
 * rules; no rule is added to an undeclared chain. Returns the problems found.
 */
export function ruleJumpProblems(restore: string): string[] {
  const problems: string[] = [];
  let table = '';
  const declared = new Map<string, Set<string>>();
  const withRules = new Map<string, Set<string>>();
  const jumped = new Map<string, Set<string>>();
  const get = (m: Map<string, Set<string>>) => {
    let s = m.get(table);
    if (!s) {
      s = new Set();
      m.set(table, s);
    }
    return s;
  };
  for (const line of restore.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) get(declared).add(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      if (!get(declared).has(chain)) problems.push(`${table}: rule added to undeclared ${chain}`);
      get(withRules).add(chain);
      const j = / -j (\S+)/.exec(line)?.[1];
      if (j && j !== 'KUBE-MARK-MASQ' && j.startsWith('KUBE-')) get(jumped).add(j);
    }
  }
  for (const [t, js] of jumped) {
    for (const j of js) {
      if (!declared.get(t)?.has(j)) problems.push(`${t}: ${j} is used but not created`);
      else if (!withRules.get(t)?.has(j) && j !== 'KUBE-NODEPORTS')
        problems.push(`${t}: ${j} is jumped to but has no rules`);
    }
  }
  const fixed = new Set([
    'KUBE-SERVICES',
    'KUBE-EXTERNAL-SERVICES',
    'KUBE-FORWARD',
    'KUBE-NODEPORTS',
    'KUBE-PROXY-FIREWALL',
    'KUBE-FIREWALL',
    'KUBE-POSTROUTING',
    'KUBE-MARK-MASQ',
  ]);
  for (const [t, ds] of declared) {
    for (const d of ds)
      if (!fixed.has(d) && !jumped.get(t)?.has(d)) problems.push(`${t}: ${d} is created but not used`);
  }
  return problems;
}
