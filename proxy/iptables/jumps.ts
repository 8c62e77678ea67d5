/**
 * What kube-proxy installs outside iptables-restore, on full syncs only: each jump from a built-in
 * chain is ensured with `iptables -C` and, when missing, `iptables -I <chain>` (position 1), in this
 * order; then the two KUBE-FIREWALL jumps it duplicates from kubelet. Because every jump is
 * prepended, later ones end up higher. The canary chain KUBE-PROXY-CANARY is created (`-N`, empty)
 * in mangle, nat and filter by the iptables monitor; if it vanishes, kube-proxy does a full resync.
 */
import type { Family } from '../../netmodel/addr.js';

export type Table = 'filter' | 'nat' | 'mangle';

export interface JumpRule {
  readonly table: Table;
  /** The built-in chain the jump lives in. */
  readonly chain: 'INPUT' | 'FORWARD' | 'OUTPUT' | 'PREROUTING' | 'POSTROUTING';
  readonly target: string;
  /** Arguments after the chain, as iptables-save would show them, e.g. `-m comment --comment "..." -j KUBE-SERVICES`. */
  readonly rule: string;
  /** The argument vector kube-proxy passes to iptables (no shell quoting). */
  readonly args: readonly string[];
  /** True for the KUBE-FIREWALL jumps kube-proxy copies from kubelet. */
  readonly kubelet: boolean;
}

interface JumpSpec {
  table: Table;
  target: string;
  chain: JumpRule['chain'];
  comment: string;
  extra: string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'];

/** kube-proxy's iptablesJumpChains, in the order it ensures them. */
const JUMPS: readonly JumpSpec[] = [
  {
    table: 'filter',
    target: 'KUBE-EXTERNAL-SERVICES',
    chain: 'INPUT',
    comment: 'kubernetes externally-visible service portals',
    extra: NEW,
  },
  {
    table: 'filter',
    target: 'KUBE-EXTERNAL-SERVICES',
    chain: 'FORWARD',
    comment: 'kubernetes externally-visible service portals',
    extra: NEW,
  },
  {
    table: 'filter',
    target: 'KUBE-NODEPORTS',
    chain: 'INPUT',
    comment: 'kubernetes health check service ports',
    extra: [],
  },
  {
    table: 'filter',
    target: 'KUBE-SERVICES',
    chain: 'FORWARD',
    comment: 'kubernetes service portals',
    extra: NEW,
  },
  {
    table: 'filter',
    target: 'KUBE-SERVICES',
    chain: 'OUTPUT',
    comment: 'kubernetes service portals',
    extra: NEW,
  },
  {
    table: 'filter',
    target: 'KUBE-FORWARD',
    chain: 'FORWARD',
    comment: 'kubernetes forwarding rules',
    extra: [],
  },
  {
    table: 'filter',
    target: 'KUBE-PROXY-FIREWALL',
    chain: 'INPUT',
    comment: 'kubernetes load balancer firewall',
    extra: NEW,
  },
  {
    table: 'filter',
    target: 'KUBE-PROXY-FIREWALL',
    chain: 'OUTPUT',
    comment: 'kubernetes load balancer firewall',
    extra: NEW,
  },
  {
    table: 'filter',
    target: 'KUBE-PROXY-FIREWALL',
    chain: 'FORWARD',
    comment: 'kubernetes load balancer firewall',
    extra: NEW,
  },
  {
    table: 'nat',
    target: 'KUBE-SERVICES',
    chain: 'OUTPUT',
    comment: 'kubernetes service portals',
    extra: [],
  },
  {
    table: 'nat',
    target: 'KUBE-SERVICES',
    chain: 'PREROUTING',
    comment: 'kubernetes service portals',
    extra: [],
  },
  {
    table: 'nat',
    target: 'KUBE-POSTROUTING',
    chain: 'POSTROUTING',
    comment: 'kubernetes postrouting rules',
    extra: [],
  },
];

/** kube-proxy's iptablesKubeletJumpChains (no comment). */
const KUBELET_JUMPS: readonly JumpSpec[] = [
  { table: 'filter', target: 'KUBE-FIREWALL', chain: 'INPUT', comment: '', extra: [] },
  { table: 'filter', target: 'KUBE-FIREWALL', chain: 'OUTPUT', comment: '', extra: [] },
];

function toRule(s: JumpSpec, kubelet: boolean): JumpRule {
  const args = [...s.extra, ...(s.comment ? ['-m', 'comment', '--comment', s.comment] : []), '-j', s.target];
  const rule = args.map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ');
  return { table: s.table, chain: s.chain, target: s.target, rule, args, kubelet };
}

/** The jumps in the order kube-proxy issues `iptables -I` for them (on an empty ruleset). */
export function jumpInsertOrder(): JumpRule[] {
  return [...JUMPS.map((s) => toRule(s, false)), ...KUBELET_JUMPS.map((s) => toRule(s, true))];
}

/**
 * The jumps as they end up in each built-in chain, top to bottom, grouped by table then chain. With
 * `kubeletJumpsFirst`, kubelet's KUBE-FIREWALL jumps were there before kube-proxy started, so they
 * stay below kube-proxy's; otherwise kube-proxy inserts them last and they end up on top.
 */
export function jumpsInFinalOrder(kubeletJumpsFirst = true): JumpRule[] {
  const inserted = kubeletJumpsFirst
    ? [...KUBELET_JUMPS.map((s) => toRule(s, true)), ...JUMPS.map((s) => toRule(s, false))]
    : jumpInsertOrder();
  const byChain = new Map<string, JumpRule[]>();
  for (const j of inserted) {
    const k = `${j.table} ${j.chain}`;
    byChain.set(k, [j, ...(byChain.get(k) ?? [])]);
  }
  const order = [
    'filter INPUT',
    'filter FORWARD',
    'filter OUTPUT',
    'nat PREROUTING',
    'nat OUTPUT',
    'nat POSTROUTING',
  ];
  return order.flatMap((k) => byChain.get(k) ?? []);
}

/** The chains kube-proxy ensures (`iptables -N`) before inserting the jumps, per table. */
export function ensuredChains(): { table: Table; chain: string }[] {
  const seen = new Set<string>();
  const out: { table: Table; chain: string }[] = [];
  for (const s of [...JUMPS, ...KUBELET_JUMPS]) {
    const k = `${s.table} ${s.target}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ table: s.table, chain: s.target });
    }
  }
  return out;
}

export const CANARY_CHAIN = 'KUBE-PROXY-CANARY';

/** The canary chains (empty, created with -N) the monitor watches, in the tables it checks. */
export function canaryChains(): { table: Table; chain: string }[] {
  return (['mangle', 'nat', 'filter'] as const).map((table) => ({ table, chain: CANARY_CHAIN }));
}

/** Shell commands that install the jumps like kube-proxy does (for docs and namespace tests). */
export function setupCommands(family: Family = 4, kubeletJumpsFirst = true): string[] {
  const bin = family === 4 ? 'iptables' : 'ip6tables';
  const q = (a: string) => (/[\s"]/.test(a) ? `'${a}'` : a);
  const cmds: string[] = [];
  for (const c of canaryChains()) cmds.push(`${bin} -w -t ${c.table} -N ${c.chain}`);
  for (const c of ensuredChains()) cmds.push(`${bin} -w -t ${c.table} -N ${c.chain}`);
  const inserted = kubeletJumpsFirst
    ? [...KUBELET_JUMPS.map((s) => toRule(s, true)), ...JUMPS.map((s) => toRule(s, false))]
    : jumpInsertOrder();
  for (const j of inserted) cmds.push(`${bin} -w -t ${j.table} -I ${j.chain} ${j.args.map(q).join(' ')}`);
  return cmds;
}
