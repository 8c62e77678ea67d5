/**
 * The seeded generator of the kernel-differential harness: random iptables rulesets for the router
 * of the test topology, and the connections to fire through it. Same seed, same rulesets and cases.
 *
 * Features drawn from: DNAT, REDIRECT, SNAT, MASQUERADE, MARK (set-xmark/or/and) and the mark match,
 * REJECT (every --reject-with type) vs DROP, ACCEPT, RETURN from user and built-in chains, -j and -g
 * into user chains, addrtype LOCAL, multiport, tcp/udp ports and flags, conntrack/state matches
 * (NEW, ESTABLISHED, RELATED, INVALID, DNAT, SNAT), chain policies, and (in sequential scenarios) the
 * recent match and statistic --mode nth, whose answers depend on the order of the connections.
 *
 * Rules that would only count some packets of a flow nondeterministically (every packet of a
 * stalled TCP flow, retransmissions) are kept out of counter comparison by the `guarded` flag: when
 * set, the filter and mangle built-in chains start with a rule that takes every packet but the first
 * of a flow, so every other rule's counters are exact.
 */
import type { Rng } from '../../netmodel/rng.js';
import { float, intBelow } from '../../netmodel/rng.js';
import {
  CLIENT_ADDRS,
  ROUTER_ADDRS,
  SERVER_ADDRS,
  TCP_PORTS,
  UDP_PORTS,
  VIP_ADDRS,
} from './topology-plan.js';

export interface Case {
  /** Unique in the run; also the token sent in the connection. */
  readonly id: string;
  readonly proto: 'tcp' | 'udp';
  readonly src: string;
  readonly sport: number;
  readonly dst: string;
  readonly dport: number;
  /** Sequential scenarios: wait this long (ms) before firing it. */
  readonly pauseMs?: number;
}

export interface Scenario {
  readonly index: number;
  /** iptables-restore input for the router. */
  readonly rules: string;
  /** Filter/mangle built-in chains start with the established guard: their counters are compared. */
  readonly guarded: boolean;
  /** Fire the cases one after the other (recent, nth): the answers depend on their order. */
  readonly sequential: boolean;
  readonly cases: readonly Case[];
}

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[intBelow(rng, xs.length)]!;
const chance = (rng: Rng, p: number): boolean => float(rng) < p;

/** Source ports: unique over a whole run, so no two connections ever share a tuple. */
export class PortAllocator {
  private next = 20000;
  take(): number {
    const p = this.next;
    this.next = this.next >= 59999 ? 20000 : this.next + 1;
    return p;
  }
}

type Hook = 'PREROUTING' | 'POSTROUTING' | 'FORWARD' | 'INPUT';

interface Ctx {
  readonly rng: Rng;
  readonly sequential: boolean;
  readonly table: 'nat' | 'filter' | 'mangle';
  /** The built-in chain the rule is reached from (decides -i/-o and targets). */
  readonly hook: Hook;
}

const MARKS = ['0x1', '0x2', '0x4', '0x4000', '0x10'];

function addrArg(rng: Rng, flag: '-s' | '-d', hook: Hook): string {
  const neg = chance(rng, 0.15) ? '! ' : '';
  if (flag === '-s') {
    const v = pick(rng, [...CLIENT_ADDRS, '10.10.1.0/24', '10.10.1.2/31', '10.10.2.0/24']);
    return `${neg}-s ${v}`;
  }
  const pool = hook === 'POSTROUTING' ? [...SERVER_ADDRS, ...ROUTER_ADDRS] : [];
  const v = pick(rng, [...SERVER_ADDRS, ...ROUTER_ADDRS, ...VIP_ADDRS, '10.96.0.0/16', ...pool]);
  return `${neg}-d ${v}`;
}

/** A random conjunction of matches; `proto` is returned so targets can depend on it. */
function matches(c: Ctx): { text: string; proto?: 'tcp' | 'udp' } {
  const { rng } = c;
  const parts: string[] = [];
  let proto: 'tcp' | 'udp' | undefined;
  if (chance(rng, 0.35)) parts.push(addrArg(rng, '-s', c.hook));
  if (chance(rng, 0.45)) parts.push(addrArg(rng, '-d', c.hook));
  if (c.hook !== 'POSTROUTING' && chance(rng, 0.15)) parts.push(`${chance(rng, 0.2) ? '! ' : ''}-i r0`);
  if ((c.hook === 'POSTROUTING' || c.hook === 'FORWARD') && chance(rng, 0.15))
    parts.push(`${chance(rng, 0.2) ? '! ' : ''}-o ${pick(rng, ['r0', 'r1'])}`);
  if (chance(rng, 0.6)) {
    proto = chance(rng, 0.7) ? 'tcp' : 'udp';
    parts.push(`-p ${proto}`);
    const ports = proto === 'tcp' ? TCP_PORTS : UDP_PORTS;
    const r = float(rng);
    if (r < 0.4) parts.push(`${chance(rng, 0.15) ? '! ' : ''}--dport ${pick(rng, [...ports, 9999])}`);
    else if (r < 0.6) {
      const a = pick(rng, ports);
      const b = pick(rng, [...ports, 7000]);
      parts.push(`-m multiport ${chance(rng, 0.15) ? '! ' : ''}--dports ${a === b ? a : `${a},${b}`}`);
    } else if (r < 0.65) parts.push(`--sport ${pick(rng, ['20000:39999', '40000:59999'])}`);
    else if (proto === 'tcp' && r < 0.75) {
      parts.push(pick(rng, ['--syn', '! --syn', '--tcp-flags SYN,ACK ACK', '--tcp-flags SYN,ACK SYN,ACK']));
    }
  }
  if (chance(rng, 0.2)) {
    const m = pick(rng, MARKS);
    parts.push(`-m mark ${chance(rng, 0.15) ? '! ' : ''}--mark ${chance(rng, 0.5) ? m : `${m}/${m}`}`);
  }
  if (chance(rng, 0.15)) {
    const which = c.hook === 'POSTROUTING' ? '--src-type' : pick(rng, ['--dst-type', '--src-type']);
    parts.push(`-m addrtype ${chance(rng, 0.2) ? '! ' : ''}${which} ${pick(rng, ['LOCAL', 'UNICAST'])}`);
  }
  if (c.table !== 'nat' && chance(rng, 0.25)) {
    const st = pick(rng, [
      'NEW',
      'ESTABLISHED',
      'RELATED,ESTABLISHED',
      'INVALID',
      'DNAT',
      'SNAT',
      'NEW,DNAT',
    ]);
    if (st.includes('NAT')) parts.push(`-m conntrack --ctstate ${st}`);
    else if (chance(rng, 0.5)) parts.push(`-m conntrack ${chance(rng, 0.15) ? '! ' : ''}--ctstate ${st}`);
    else parts.push(`-m state --state ${st}`);
  }
  if (c.table !== 'nat' && chance(rng, 0.08)) {
    parts.push(`-m conntrack --ctorigdst ${pick(rng, [...VIP_ADDRS, ...SERVER_ADDRS, ...ROUTER_ADDRS])}`);
  }
  if (c.sequential && c.table === 'nat' && c.hook === 'PREROUTING' && chance(rng, 0.3)) {
    const name = pick(rng, ['AFF', 'SEEN']);
    const cmd = pick(rng, [
      `--set --name ${name} --mask 255.255.255.255 --rsource`,
      `--rcheck --seconds 60 --reap --name ${name} --mask 255.255.255.255 --rsource`,
      `--update --seconds 60 --name ${name} --rsource`,
      `--rcheck --hitcount 2 --name ${name} --rsource`,
      `--rcheck --name ${name} --rdest`,
      `--remove --name ${name} --rsource`,
    ]);
    parts.push(`-m recent ${cmd}`);
  }
  if (c.sequential && c.table === 'nat' && chance(rng, 0.12)) {
    const every = 2 + intBelow(rng, 2);
    parts.push(`-m statistic --mode nth --every ${every} --packet ${intBelow(rng, every)}`);
  }
  return proto ? { text: parts.join(' '), proto } : { text: parts.join(' ') };
}

const REJECTS_ANY = [
  'icmp-port-unreachable',
  'icmp-host-unreachable',
  'icmp-net-unreachable',
  'icmp-proto-unreachable',
  'icmp-net-prohibited',
  'icmp-host-prohibited',
  'icmp-admin-prohibited',
];

function markTarget(rng: Rng): string {
  const m = pick(rng, MARKS);
  return pick(rng, [
    `MARK --set-xmark ${m}/0xffffffff`,
    `MARK --or-mark ${m}`,
    `MARK --set-mark ${m}`,
    'MARK --and-mark 0xfffffffe',
    `MARK --xor-mark ${m}`,
  ]);
}

function natTarget(c: Ctx, proto: 'tcp' | 'udp' | undefined, chains: readonly string[]): string {
  const { rng } = c;
  const r = float(rng);
  if (chains.length > 0 && r < 0.2) return `${chance(rng, 0.7) ? '-j' : '-g'} ${pick(rng, chains)}`;
  if (r < 0.3) return '-j RETURN';
  if (r < 0.38) return '-j ACCEPT';
  if (r < 0.5) return `-j ${markTarget(rng)}`;
  if (c.hook === 'PREROUTING') {
    const ports = proto === 'udp' ? UDP_PORTS : TCP_PORTS;
    if (r < 0.62 && proto) return `-j REDIRECT --to-ports ${pick(rng, ports)}`;
    const to = pick(rng, [...SERVER_ADDRS, ...SERVER_ADDRS, ...ROUTER_ADDRS]);
    return proto && chance(rng, 0.5)
      ? `-j DNAT --to-destination ${to}:${pick(rng, ports)}`
      : `-j DNAT --to-destination ${to}`;
  }
  if (r < 0.75) return '-j MASQUERADE';
  return `-j SNAT --to-source ${pick(rng, ['10.10.2.9', '10.10.2.1'])}`;
}

function filterTarget(c: Ctx, proto: 'tcp' | 'udp' | undefined, chains: readonly string[]): string {
  const { rng } = c;
  const r = float(rng);
  if (chains.length > 0 && r < 0.2) return `${chance(rng, 0.7) ? '-j' : '-g'} ${pick(rng, chains)}`;
  if (r < 0.3) return '-j RETURN';
  if (r < 0.45) return '-j ACCEPT';
  if (r < 0.6) return '-j DROP';
  if (c.table === 'mangle' || r < 0.68) return `-j ${markTarget(rng)}`;
  if (r < 0.76) return '-j REJECT';
  if (proto === 'tcp' && r < 0.86) return '-j REJECT --reject-with tcp-reset';
  return `-j REJECT --reject-with ${pick(rng, REJECTS_ANY)}`;
}

function rulesFor(
  c: Ctx,
  chain: string,
  n: number,
  chains: readonly string[],
  out: string[],
  guard: string | undefined,
): void {
  if (guard) out.push(`-A ${chain} ${guard}`);
  for (let i = 0; i < n; i++) {
    const m = matches(c);
    const t = c.table === 'nat' ? natTarget(c, m.proto, chains) : filterTarget(c, m.proto, chains);
    out.push(`-A ${chain}${m.text ? ` ${m.text}` : ''} ${t}`);
  }
}

/** One random ruleset for the router (iptables-restore text). */
export function generateRules(rng: Rng, guarded: boolean, sequential: boolean): string {
  const lines: string[] = [];
  // mangle: marks on the way in.
  const mangle: string[] = [];
  const mangleChains = chance(rng, 0.4) ? ['MU1'] : [];
  const mguard = guarded ? '-m conntrack ! --ctstate NEW -j RETURN' : undefined;
  rulesFor(
    { rng, sequential, table: 'mangle', hook: 'PREROUTING' },
    'PREROUTING',
    intBelow(rng, 3),
    mangleChains,
    mangle,
    mguard,
  );
  for (const ch of mangleChains)
    rulesFor(
      { rng, sequential, table: 'mangle', hook: 'PREROUTING' },
      ch,
      1 + intBelow(rng, 2),
      [],
      mangle,
      undefined,
    );
  lines.push('*mangle', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]');
  lines.push(
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...mangleChains.map((x) => `:${x} - [0:0]`),
  );
  lines.push(...mangle, 'COMMIT');

  // nat: user chains ordered so that a chain only jumps to later ones (no loops).
  const nat: string[] = [];
  const preChains = ['NP1', 'NP2', 'NP3'].slice(0, intBelow(rng, 4));
  const postChains = ['NQ1', 'NQ2'].slice(0, intBelow(rng, 3));
  const pre: Ctx = { rng, sequential, table: 'nat', hook: 'PREROUTING' };
  const post: Ctx = { rng, sequential, table: 'nat', hook: 'POSTROUTING' };
  rulesFor(pre, 'PREROUTING', 1 + intBelow(rng, 4), preChains, nat, undefined);
  preChains.forEach((ch, i) => {
    rulesFor(pre, ch, 1 + intBelow(rng, 3), preChains.slice(i + 1), nat, undefined);
  });
  rulesFor(post, 'POSTROUTING', intBelow(rng, 4), postChains, nat, undefined);
  postChains.forEach((ch, i) => {
    rulesFor(post, ch, 1 + intBelow(rng, 2), postChains.slice(i + 1), nat, undefined);
  });
  lines.push('*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]');
  lines.push(':POSTROUTING ACCEPT [0:0]', ...[...preChains, ...postChains].map((x) => `:${x} - [0:0]`));
  lines.push(...nat, 'COMMIT');

  // filter: FORWARD and INPUT; OUTPUT stays empty (the router's own answers and REJECT's packets).
  const filter: string[] = [];
  const fChains = ['FU1', 'FU2'].slice(0, intBelow(rng, 3));
  const guard = guarded ? '-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT' : undefined;
  const fwd: Ctx = { rng, sequential, table: 'filter', hook: 'FORWARD' };
  const inp: Ctx = { rng, sequential, table: 'filter', hook: 'INPUT' };
  rulesFor(fwd, 'FORWARD', 1 + intBelow(rng, 5), fChains, filter, guard);
  rulesFor(inp, 'INPUT', intBelow(rng, 3), [], filter, guard);
  fChains.forEach((ch, i) => {
    rulesFor(fwd, ch, 1 + intBelow(rng, 3), fChains.slice(i + 1), filter, undefined);
  });
  const fpol = chance(rng, 0.25) ? 'DROP' : 'ACCEPT';
  const ipol = chance(rng, 0.15) ? 'DROP' : 'ACCEPT';
  lines.push('*filter', `:INPUT ${ipol} [0:0]`, `:FORWARD ${fpol} [0:0]`, ':OUTPUT ACCEPT [0:0]');
  lines.push(...fChains.map((x) => `:${x} - [0:0]`), ...filter, 'COMMIT', '');
  return lines.join('\n');
}

/** The connections of one scenario. Destinations lean towards what the rules talk about. */
export function generateCases(rng: Rng, n: number, ports: PortAllocator, nextId: () => string): Case[] {
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    const proto = chance(rng, 0.7) ? 'tcp' : 'udp';
    const dst = pick(rng, [...SERVER_ADDRS, ...SERVER_ADDRS, ...ROUTER_ADDRS, ...VIP_ADDRS, ...VIP_ADDRS]);
    const dport = pick(rng, proto === 'tcp' ? TCP_PORTS : UDP_PORTS);
    out.push({ id: nextId(), proto, src: pick(rng, CLIENT_ADDRS), sport: ports.take(), dst, dport });
  }
  return out;
}

export interface GenerateOptions {
  readonly seed: number;
  readonly cases: number;
  readonly perScenario: number;
}

/** All scenarios of a run: `cases` connections in rulesets of `perScenario` each. */
export function generateScenarios(rng: Rng, opts: GenerateOptions): Scenario[] {
  const ports = new PortAllocator();
  let id = 0;
  const nextId = () => `k${id++}`;
  const out: Scenario[] = [];
  let left = opts.cases;
  while (left > 0) {
    const n = Math.min(left, opts.perScenario);
    const sequential = chance(rng, 0.1);
    const guarded = chance(rng, 0.6);
    const rules = generateRules(rng, guarded, sequential);
    out.push({ index: out.length, rules, guarded, sequential, cases: generateCases(rng, n, ports, nextId) });
    left -= n;
  }
  return out;
}
