import type { Table } from '../iptables/jumps.js';
import { createLine, IPVS_SETS, setInfo, setNameIn } from './sets.js';
import type { IpvsNodeState } from './state.js';

export interface IpvsJump {
  readonly table: Table;
  readonly chain: 'INPUT' | 'FORWARD' | 'OUTPUT' | 'PREROUTING' | 'POSTROUTING';
  readonly target: string;
  readonly comment: string;
  /** `-m comment --comment "..." -j TARGET`, as iptables-save shows it after the chain name. */
  readonly rule: string;
}

const JUMP_SPECS: readonly [Table, IpvsJump['chain'], string, string][] = [
  ['nat', 'OUTPUT', 'KUBE-SERVICES', 'kubernetes service portals'],
  ['nat', 'PREROUTING', 'KUBE-SERVICES', 'kubernetes service portals'],
  ['nat', 'POSTROUTING', 'KUBE-POSTROUTING', 'kubernetes postrouting rules'],
  ['filter', 'FORWARD', 'KUBE-FORWARD', 'kubernetes forwarding rules'],
  ['filter', 'INPUT', 'KUBE-NODE-PORT', 'kubernetes health check rules'],
  ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL', 'kube-proxy firewall rules'],
  ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL', 'kube-proxy firewall rules'],
  ['filter', 'INPUT', 'KUBE-IPVS-FILTER', 'kubernetes ipvs access filter'],
  ['filter', 'OUTPUT', 'KUBE-IPVS-OUT-FILTER', 'kubernetes ipvs access filter'],
];

/** The jumps in the order kube-proxy ensures (prepends) them. */
export function ipvsJumpInsertOrder(): IpvsJump[] {
  return JUMP_SPECS.map(([table, chain, target, comment]) => ({
    table,
    chain,
    target,
    comment,
    rule: `-m comment --comment "${comment}" -j ${target}`,
  }));
}

/** The jumps as they end up in each built-in chain, top to bottom (each insert lands on top). */
export function ipvsJumpsInFinalOrder(): IpvsJump[] {
  const order = [
    'filter INPUT',
    'filter FORWARD',
    'filter OUTPUT',
    'nat PREROUTING',
    'nat OUTPUT',
    'nat POSTROUTING',
  ];
  const by = new Map<string, IpvsJump[]>();
  for (const j of ipvsJumpInsertOrder()) {
    const k = `${j.table} ${j.chain}`;
    by.set(k, [j, ...(by.get(k) ?? [])]);
  }
  return order.flatMap((k) => by.get(k) ?? []);
}

export const IPVS_NAT_CHAINS = [
  'KUBE-SERVICES',
  'KUBE-POSTROUTING',
  'KUBE-NODE-PORT',
  'KUBE-LOAD-BALANCER',
  'KUBE-MARK-MASQ',
] as const;
export const IPVS_FILTER_CHAINS = [
  'KUBE-FORWARD',
  'KUBE-NODE-PORT',
  'KUBE-PROXY-FIREWALL',
  'KUBE-SOURCE-RANGES-FIREWALL',
  'KUBE-IPVS-FILTER',
  'KUBE-IPVS-OUT-FILTER',
] as const;

/** proxier.go's ipsetWithIptablesChain: set, table, from chain, target, match flags, protocol. */
const SET_JUMPS: readonly [string, Table, string, string, string, string][] = [
  ['KUBE-LOOP-BACK', 'nat', 'KUBE-POSTROUTING', 'MASQUERADE', 'dst,dst,src', ''],
  ['KUBE-LOAD-BALANCER', 'nat', 'KUBE-SERVICES', 'KUBE-LOAD-BALANCER', 'dst,dst', ''],
  ['KUBE-LOAD-BALANCER-LOCAL', 'nat', 'KUBE-LOAD-BALANCER', 'RETURN', 'dst,dst', ''],
  ['KUBE-NODE-PORT-LOCAL-TCP', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst', 'tcp'],
  ['KUBE-NODE-PORT-TCP', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'tcp'],
  ['KUBE-NODE-PORT-LOCAL-UDP', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst', 'udp'],
  ['KUBE-NODE-PORT-UDP', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst', 'udp'],
  ['KUBE-NODE-PORT-LOCAL-SCTP-HASH', 'nat', 'KUBE-NODE-PORT', 'RETURN', 'dst,dst', 'sctp'],
  ['KUBE-NODE-PORT-SCTP-HASH', 'nat', 'KUBE-NODE-PORT', 'KUBE-MARK-MASQ', 'dst,dst', 'sctp'],
  ['KUBE-LOAD-BALANCER-FW', 'filter', 'KUBE-PROXY-FIREWALL', 'KUBE-SOURCE-RANGES-FIREWALL', 'dst,dst', ''],
  ['KUBE-LOAD-BALANCER-SOURCE-CIDR', 'filter', 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src', ''],
  ['KUBE-LOAD-BALANCER-SOURCE-IP', 'filter', 'KUBE-SOURCE-RANGES-FIREWALL', 'RETURN', 'dst,dst,src', ''],
];

export interface IpvsRules {
  /** `*nat ... COMMIT` then `*filter ... COMMIT`: kube-proxy's iptables-restore payload. */
  readonly restore: string;
  readonly nat: string;
  readonly filter: string;
}

/** The payload of one sync. */
export function renderIpvsRules(st: IpvsNodeState): IpvsRules {
  const { ctx, family } = st;
  const name = (set: string) => setNameIn(set, family);
  const nonEmpty = (set: string) => (st.sets.get(set)?.length ?? 0) > 0;
  const comment = (set: string) => `-m comment --comment "${setInfo(set).comment}"`;
  const nat: string[] = [];
  const filter: string[] = [];
  const mark = ctx.mark;

  nat.push(`-A KUBE-SERVICES -s ${family === 4 ? '127.0.0.0/8' : '::1/128'} -j RETURN`);
  for (const [set, table, from, to, flags, proto] of SET_JUMPS) {
    if (!nonEmpty(set)) continue;
    const p = proto ? ` -p ${proto}` : '';
    (table === 'filter' ? filter : nat).push(
      `-A ${from}${p} ${comment(set)} -m set --match-set ${name(set)} ${flags} -j ${to}`,
    );
  }
  if (nonEmpty('KUBE-CLUSTER-IP')) {
    const base = `-A KUBE-SERVICES ${comment('KUBE-CLUSTER-IP')} -m set --match-set ${name('KUBE-CLUSTER-IP')}`;
    if (ctx.masqueradeAll) nat.push(`${base} dst,dst -j KUBE-MARK-MASQ`);
    else if (ctx.detector) nat.push(`${base} dst,dst ${ctx.detector.ifNotLocal} -j KUBE-MARK-MASQ`);
    else nat.push(`${base} src,dst -j KUBE-MARK-MASQ`);
  }
  const externalIPRules = (base: string) => {
    nat.push(`${base} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT`);
    nat.push(`${base} -m addrtype --dst-type LOCAL -j ACCEPT`);
  };
  if (nonEmpty('KUBE-EXTERNAL-IP')) {
    const base = `-A KUBE-SERVICES ${comment('KUBE-EXTERNAL-IP')} -m set --match-set ${name('KUBE-EXTERNAL-IP')} dst,dst`;
    nat.push(`${base} -j KUBE-MARK-MASQ`);
    externalIPRules(base);
  }
  if (nonEmpty('KUBE-EXTERNAL-IP-LOCAL'))
    externalIPRules(
      `-A KUBE-SERVICES ${comment('KUBE-EXTERNAL-IP-LOCAL')} -m set --match-set ${name('KUBE-EXTERNAL-IP-LOCAL')} dst,dst`,
    );
  nat.push('-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT');
  nat.push('-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ');
  filter.push('-A KUBE-SOURCE-RANGES-FIREWALL -j DROP');
  for (const e of st.lbNoNodeAccess)
    filter.push(
      `-A KUBE-IPVS-OUT-FILTER -s ${e.ip.text} -m ipvs --vaddr ${e.ip.text} --vproto ${e.protocol} --vport ${e.port} -j DROP`,
    );
  for (const set of ['KUBE-CLUSTER-IP', 'KUBE-LOAD-BALANCER'])
    if (nonEmpty(set)) nat.push(`-A KUBE-SERVICES -m set --match-set ${name(set)} dst,dst -j ACCEPT`);
  filter.push(
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
  );
  filter.push(
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  );
  filter.push(
    `-A KUBE-NODE-PORT ${comment('KUBE-HEALTH-CHECK-NODE-PORT')} -m set --match-set ${name('KUBE-HEALTH-CHECK-NODE-PORT')} dst -j ACCEPT`,
  );
  for (const [set, flags] of [
    ['KUBE-LOAD-BALANCER', 'dst,dst'],
    ['KUBE-CLUSTER-IP', 'dst,dst'],
    ['KUBE-EXTERNAL-IP', 'dst,dst'],
    ['KUBE-EXTERNAL-IP-LOCAL', 'dst,dst'],
    ['KUBE-HEALTH-CHECK-NODE-PORT', 'dst'],
  ] as const)
    filter.push(`-A KUBE-IPVS-FILTER -m set --match-set ${name(set)} ${flags} -j RETURN`);
  filter.push(
    `-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set ${name('KUBE-IPVS-IPS')} dst -j REJECT`,
  );
  nat.push(`-A KUBE-POSTROUTING -m mark ! --mark ${mark}/${mark} -j RETURN`);
  nat.push(`-A KUBE-POSTROUTING -j MARK --xor-mark ${mark}`);
  nat.push(
    `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${ctx.randomFully ? ' --random-fully' : ''}`,
  );
  nat.push(`-A KUBE-MARK-MASQ -j MARK --or-mark ${mark}`);

  const natText = `*nat\n${IPVS_NAT_CHAINS.map((c) => `:${c} - [0:0]\n`).join('')}${nat.map((l) => `${l}\n`).join('')}COMMIT\n`;
  const filterText = `*filter\n${IPVS_FILTER_CHAINS.map((c) => `:${c} - [0:0]\n`).join('')}${filter.map((l) => `${l}\n`).join('')}COMMIT\n`;
  return { restore: natText + filterText, nat: natText, filter: filterText };
}

/**
 * kube-proxy's start-of-sync setup as one `iptables-restore --noflush` script: the chains it ensures
 * (`iptables -N`) and the built-in-chain jumps it prepends (`iptables -I CHAIN`), same result.
 * kube-proxy checks each jump first (`iptables -C`); `present` says which are already there
 * (default: none), and those are not inserted again.
 */
export function ipvsSetupRestore(present: (j: IpvsJump) => boolean = () => false): string {
  const lines: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    lines.push(`*${table}`);
    for (const c of table === 'nat' ? IPVS_NAT_CHAINS : IPVS_FILTER_CHAINS) lines.push(`:${c} - [0:0]`);
    for (const j of ipvsJumpInsertOrder())
      if (j.table === table && !present(j)) lines.push(`-I ${j.chain} 1 ${j.rule}`);
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The ipsets of one sync as `ipset restore` input: kube-proxy runs `ipset create ... -exist` for
 * every set and then `ipset add SET ENTRY -exist` for each new member, one command at a time; this is
 * the same sequence as one script.
 */
export function renderIpsetRestore(st: IpvsNodeState): string {
  let out = '';
  for (const info of IPVS_SETS) out += `${createLine(info, st.family)}\n`;
  for (const info of IPVS_SETS) {
    const name = setNameIn(info.name, st.family);
    for (const m of st.sets.get(info.name) ?? []) out += `add ${name} ${m.text} -exist\n`;
  }
  return out;
}

export interface IpvsSysctl {
  readonly name: string;
  readonly value: number;
  readonly why: string;
}

function versionAtLeast(v: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = v.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}

/** The sysctls NewProxier ensures, in its order. */
export function ipvsSysctls(strictARP: boolean, kernelVersion = '6.1'): IpvsSysctl[] {
  const out: IpvsSysctl[] = [
    {
      name: 'net.ipv4.vs.conntrack',
      value: 1,
      why: 'IPVS keeps conntrack entries, so iptables NAT (masquerade) applies',
    },
  ];
  if (versionAtLeast(kernelVersion, 4, 1) && !versionAtLeast(kernelVersion, 5, 9))
    out.push({
      name: 'net.ipv4.vs.conn_reuse_mode',
      value: 0,
      why: 'kernels 4.1-5.8 stall 1 s on reused ports with 1 (issue 93297); left alone from 5.9',
    });
  out.push(
    {
      name: 'net.ipv4.vs.expire_nodest_conn',
      value: 1,
      why: 'connections to a deleted real server end on the next packet',
    },
    {
      name: 'net.ipv4.vs.expire_quiescent_template',
      value: 1,
      why: 'persistence templates to a weight-0 server expire',
    },
    { name: 'net.ipv4.ip_forward', value: 1, why: 'forward to endpoints on other nodes' },
  );
  if (strictARP)
    out.push(
      {
        name: 'net.ipv4.conf.all.arp_ignore',
        value: 1,
        why: 'strictARP: answer ARP only for addresses on the receiving interface',
      },
      {
        name: 'net.ipv4.conf.all.arp_announce',
        value: 2,
        why: 'strictARP: never announce kube-ipvs0 addresses',
      },
    );
  return out;
}
