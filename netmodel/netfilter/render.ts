/**
 * Printers. `renderSave` prints what iptables-save (1.8.x) prints for a ruleset; `renderRestore`
 * prints iptables-restore input in kube-proxy's style (comments first, `-m tcp -p tcp`, host addresses
 * without /32, kube-proxy's MARK spellings). Both parse back to the same Ruleset.
 */
import type { IP, Prefix } from '../addr.js';
import type { AddrMatch, ConntrackMatch, IpvsMatch, Match, PhysdevMatch, PortMatch } from './match.js';
import { ADDR_TYPES, CT_STATE_ORDER, CT_STATUS_ORDER, CtStateBit, CtStatus, isHeaderMatch } from './match.js';
import { hex, portRangeText } from './numbers.js';
import { TCP_FLAG_NAMES } from './parse-rule.js';
import { protoName } from './protocols.js';
import type { Chain, Counters, Rule, Ruleset, Table } from './ruleset.js';
import { BUILTIN_CHAINS } from './ruleset.js';
import { fixedToDecimal } from './statistic.js';
import type { NatRange, Target } from './target.js';
import { LogFlag } from './target.js';
import { restoreString, saveString } from './tokenize.js';

type Style = 'save' | 'restore';

const not = (neg: boolean) => (neg ? '! ' : '');

function prefixText(p: Prefix, style: Style): string {
  const full = p.ip.family === 4 ? 32 : 128;
  if (style === 'restore' && p.bits === full) return p.ip.text;
  return p.text;
}

/** conntrack prints host addresses without the length. */
function ctAddrText(a: AddrMatch): string {
  const full = a.prefix.ip.family === 4 ? 32 : 128;
  return a.prefix.bits === full ? a.prefix.ip.text : a.prefix.text;
}

function tcpFlagsText(bits: number): string {
  if (bits === 0) return 'NONE';
  return TCP_FLAG_NAMES.filter(([, b]) => bits & b)
    .map(([n]) => n)
    .join(',');
}

function portOpt(name: string, p: PortMatch | undefined, out: string[]): void {
  if (!p) return;
  if (p.lo === 0 && p.hi === 65535 && !p.neg) return;
  out.push(`${not(p.neg)}--${name} ${portRangeText(p)}`);
}

function bitsText(bits: number, order: readonly string[], table: Record<string, number>): string {
  return order.filter((n) => bits & table[n]!).join(',');
}

function conntrackText(m: ConntrackMatch): string {
  const o: string[] = [];
  if (m.state) o.push(`${not(m.state.neg)}--ctstate ${bitsText(m.state.bits, CT_STATE_ORDER, CtStateBit)}`);
  if (m.proto) o.push(`${not(m.proto.neg)}--ctproto ${m.proto.proto}`);
  const addr = (n: string, a?: AddrMatch) => a && o.push(`${not(a.neg)}--${n} ${ctAddrText(a)}`);
  addr('ctorigsrc', m.origSrc);
  addr('ctorigdst', m.origDst);
  addr('ctreplsrc', m.replSrc);
  addr('ctrepldst', m.replDst);
  const port = (n: string, p?: PortMatch) => p && o.push(`${not(p.neg)}--${n} ${portRangeText(p)}`);
  port('ctorigsrcport', m.origSrcPort);
  port('ctorigdstport', m.origDstPort);
  port('ctreplsrcport', m.replSrcPort);
  port('ctrepldstport', m.replDstPort);
  if (m.status) {
    const s = m.status.bits === 0 ? 'NONE' : bitsText(m.status.bits, CT_STATUS_ORDER, CtStatus);
    o.push(`${not(m.status.neg)}--ctstatus ${s}`);
  }
  if (m.dir) o.push(`--ctdir ${m.dir}`);
  return o.join(' ');
}

function physdevText(m: PhysdevMatch): string {
  const o: string[] = [];
  if (m.isIn) o.push(`${not(m.isIn.neg)}--physdev-is-in`);
  if (m.in) o.push(`${not(m.in.neg)}--physdev-in ${m.in.name}`);
  if (m.isOut) o.push(`${not(m.isOut.neg)}--physdev-is-out`);
  if (m.out) o.push(`${not(m.out.neg)}--physdev-out ${m.out.name}`);
  if (m.isBridged) o.push(`${not(m.isBridged.neg)}--physdev-is-bridged`);
  return o.join(' ');
}

/** libxt_ipvs's dump: --ipvs only when it is the only option, then proto, vaddr, vport, vdir, vmethod, vportctl. */
function ipvsText(m: IpvsMatch, style: Style): string {
  const o: string[] = [];
  const only = !m.vproto && !m.vaddr && !m.vport && !m.vdir && !m.vmethod && !m.vportctl;
  if (m.ipvs && only) o.push(`${not(m.ipvs.neg)}--ipvs`);
  const addr = m.vaddr ? `${not(m.vaddr.neg)}--vaddr ${prefixText(m.vaddr.prefix, style)}` : undefined;
  const proto = m.vproto
    ? `${not(m.vproto.neg)}--vproto ${style === 'save' ? m.vproto.proto : protoName(m.vproto.proto)}`
    : undefined;
  // kube-proxy writes --vaddr before --vproto; iptables-save prints the protocol first.
  for (const part of style === 'save' ? [proto, addr] : [addr, proto]) if (part) o.push(part);
  if (m.vport) o.push(`${not(m.vport.neg)}--vport ${m.vport.port}`);
  if (m.vdir) o.push(`--vdir ${m.vdir}`);
  if (m.vmethod) o.push(`${not(m.vmethod.neg)}--vmethod ${m.vmethod.method}`);
  if (m.vportctl) o.push(`${not(m.vportctl.neg)}--vportctl ${m.vportctl.port}`);
  return o.join(' ');
}

function typesText(bits: number): string {
  return ADDR_TYPES.filter((_, i) => bits & (1 << i)).join(',');
}

function maskText(ip: IP): string {
  return ip.text;
}

/** The options of one extension match after `-m NAME` (no leading space). */
function extText(m: Match, style: Style): string {
  switch (m.kind) {
    case 'src':
    case 'dst':
      return `${not(m.neg)}-${m.kind === 'src' ? 's' : 'd'} ${prefixText(m.prefix, style)}`;
    case 'iif':
    case 'oif':
      return `${not(m.neg)}-${m.kind === 'iif' ? 'i' : 'o'} ${m.name}`;
    case 'proto':
      return `${not(m.neg)}-p ${protoName(m.proto)}`;
    case 'tcp':
    case 'udp':
    case 'sctp': {
      const o: string[] = [];
      portOpt('sport', m.sport, o);
      portOpt('dport', m.dport, o);
      if (m.kind === 'tcp' && m.flags) {
        o.push(`${not(m.flags.neg)}--tcp-flags ${tcpFlagsText(m.flags.mask)} ${tcpFlagsText(m.flags.comp)}`);
      }
      return o.join(' ');
    }
    case 'icmp':
    case 'icmp6': {
      const opt = m.kind === 'icmp' ? '--icmp-type' : '--icmpv6-type';
      if (m.type === 255 && m.codeLo === 0 && m.codeHi === 255) return `${not(m.neg)}${opt} any`;
      const code = m.codeLo === 0 && m.codeHi === 255 ? '' : `/${m.codeLo}`;
      return `${not(m.neg)}${opt} ${m.type}${code}`;
    }
    case 'comment':
      return `--comment ${style === 'save' ? saveString(m.text) : restoreString(m.text)}`;
    case 'mark':
    case 'connmark':
      return `${not(m.neg)}--mark ${hex(m.value)}${m.mask === 0xffffffff ? '' : `/${hex(m.mask)}`}`;
    case 'multiport': {
      const opt = m.dir === 'src' ? '--sports' : m.dir === 'dst' ? '--dports' : '--ports';
      return `${not(m.neg)}${opt} ${m.ports.map((r) => portRangeText(r)).join(',')}`;
    }
    case 'conntrack':
      return conntrackText(m);
    case 'state':
      return `${not(m.neg)}--state ${bitsText(m.bits, CT_STATE_ORDER, CtStateBit)}`;
    case 'addrtype': {
      const o: string[] = [];
      if (m.src) o.push(`${not(m.src.neg)}--src-type ${typesText(m.src.types)}`);
      if (m.dst) o.push(`${not(m.dst.neg)}--dst-type ${typesText(m.dst.types)}`);
      if (m.limitIfaceIn) o.push('--limit-iface-in');
      if (m.limitIfaceOut) o.push('--limit-iface-out');
      return o.join(' ');
    }
    case 'statistic':
      if (m.mode === 'random') {
        return `--mode random ${not(m.neg)}--probability ${fixedToDecimal(m.probability31, style === 'save' ? 11 : 10)}`;
      }
      return `--mode nth ${not(m.neg)}--every ${m.every} --packet ${m.packet}`;
    case 'recent': {
      if (style === 'restore') {
        const o = [`--name ${m.name}`, `${not(m.neg)}--${m.command}`];
        if (m.seconds) o.push(`--seconds ${m.seconds}`);
        if (m.reap) o.push('--reap');
        if (m.hitcount) o.push(`--hitcount ${m.hitcount}`);
        if (m.rttl) o.push('--rttl');
        const full = m.mask.family === 4 ? m.mask.n === 0xffffffff : m.mask.big === (1n << 128n) - 1n;
        if (!full) o.push(`--mask ${maskText(m.mask)}`);
        if (m.side === 'dst') o.push('--rdest');
        return o.join(' ');
      }
      const o = [`${not(m.neg)}--${m.command}`];
      if (m.seconds) o.push(`--seconds ${m.seconds}`);
      if (m.reap) o.push('--reap');
      if (m.hitcount) o.push(`--hitcount ${m.hitcount}`);
      if (m.rttl) o.push('--rttl');
      o.push(`--name ${m.name}`, `--mask ${maskText(m.mask)}`, m.side === 'src' ? '--rsource' : '--rdest');
      return o.join(' ');
    }
    case 'physdev':
      return physdevText(m);
    case 'set':
      return `${not(m.neg)}--match-set ${m.name} ${m.dirs.join(',')}`;
    case 'ipvs':
      return ipvsText(m, style);
    case 'nfacct':
      // iptables-save prints two spaces here (libxt_nfacct's own quirk).
      return style === 'save' ? `--nfacct-name  ${m.name}` : `--nfacct-name ${m.name}`;
    default: {
      const never: never = m;
      return never;
    }
  }
}

function natRangeText(r: NatRange): string {
  let s = '';
  if (r.minIp) {
    s = r.minIp.text;
    if (r.maxIp && r.maxIp.text !== r.minIp.text) s += `-${r.maxIp.text}`;
    if (r.minIp.family === 6 && r.minPort !== undefined) s = `[${s}]`;
  }
  if (r.minPort !== undefined) {
    s += `:${r.minPort}`;
    if (r.maxPort !== undefined && r.maxPort !== r.minPort) s += `-${r.maxPort}`;
  }
  return s;
}

function portsSpan(min?: number, max?: number): string {
  if (min === undefined) return '';
  return max !== undefined && max !== min ? `${min}-${max}` : String(min);
}

function markTargetText(value: number, mask: number, style: Style): string {
  if (style === 'restore') {
    if (mask === value && value !== 0) return `--or-mark ${hex(value)}`;
    if (mask === 0) return `--xor-mark ${hex(value)}`;
    if (value === 0 && mask !== 0xffffffff) return `--and-mark ${hex(~mask >>> 0)}`;
  }
  return `--set-xmark ${hex(value)}/${hex(mask)}`;
}

/** `-j NAME options` / `-g CHAIN`. */
export function targetText(t: Target, style: Style = 'save'): string {
  switch (t.kind) {
    case 'ACCEPT':
    case 'DROP':
    case 'RETURN':
    case 'NOTRACK':
      return `-j ${t.kind}`;
    case 'CHECKSUM':
      return '-j CHECKSUM --checksum-fill';
    case 'jump':
      return `-j ${t.chain}`;
    case 'goto':
      return `-g ${t.chain}`;
    case 'REJECT':
      return `-j REJECT --reject-with ${t.with}`;
    case 'LOG': {
      const o = ['-j LOG'];
      if (t.prefix !== undefined)
        o.push(`--log-prefix ${style === 'save' ? saveString(t.prefix) : restoreString(t.prefix)}`);
      if (t.level !== 4) o.push(`--log-level ${t.level}`);
      if (t.flags & LogFlag.TCPSEQ) o.push('--log-tcp-sequence');
      if (t.flags & LogFlag.TCPOPT) o.push('--log-tcp-options');
      if (t.flags & LogFlag.IPOPT) o.push('--log-ip-options');
      if (t.flags & LogFlag.UID) o.push('--log-uid');
      if (t.flags & LogFlag.MACDECODE) o.push('--log-macdecode');
      return o.join(' ');
    }
    case 'MARK':
      return `-j MARK ${markTargetText(t.value, t.mask, style)}`;
    case 'CONNMARK':
      if (t.mode === 'set') return `-j CONNMARK ${markTargetText(t.value, t.mask, style)}`;
      return `-j CONNMARK --${t.mode}-mark --nfmask ${hex(t.nfmask)} --ctmask ${hex(t.ctmask)}`;
    case 'DNAT':
    case 'SNAT': {
      const o = [
        `-j ${t.kind} ${t.kind === 'DNAT' ? '--to-destination' : '--to-source'} ${natRangeText(t.range)}`,
      ];
      if (t.random) o.push('--random');
      if (t.randomFully) o.push('--random-fully');
      if (t.persistent) o.push('--persistent');
      return o.join(' ');
    }
    case 'MASQUERADE':
    case 'REDIRECT': {
      const o = [`-j ${t.kind}`];
      if (t.minPort !== undefined) o.push(`--to-ports ${portsSpan(t.minPort, t.maxPort)}`);
      if (t.random) o.push('--random');
      if (t.kind === 'MASQUERADE' && t.randomFully) o.push('--random-fully');
      return o.join(' ');
    }
    case 'CT':
      return '-j CT --notrack';
    default: {
      const never: never = t;
      return never;
    }
  }
}

function moduleName(m: Match): string {
  return m.kind === 'icmp6' ? 'icmp6' : m.kind;
}

/** A rule's options in iptables-save order (header first, then `-m` matches in order, then target). */
export function ruleArgsSave(rule: Rule): string {
  const parts: string[] = [];
  for (const m of rule.matches) if (isHeaderMatch(m)) parts.push(extText(m, 'save'));
  for (const m of rule.matches) {
    if (isHeaderMatch(m)) continue;
    const body = extText(m, 'save');
    parts.push(body === '' ? `-m ${moduleName(m)}` : `-m ${moduleName(m)} ${body}`);
  }
  if (rule.target) parts.push(targetText(rule.target, 'save'));
  return parts.join(' ');
}

/**
 * A rule's options as kube-proxy writes them: leading comments, `-m P -p P`, -d, ports, -s, -i, -o,
 * then the other matches in their order (order among extension matches is kept, so the text parses
 * back to the same rule).
 */
export function ruleArgsRestore(rule: Rule): string {
  const parts: string[] = [];
  const header = new Map(rule.matches.filter(isHeaderMatch).map((m) => [m.kind, m]));
  const exts = rule.matches.filter((m) => !isHeaderMatch(m));
  let i = 0;
  while (i < exts.length && exts[i]!.kind === 'comment')
    parts.push(`-m comment ${extText(exts[i++]!, 'restore')}`);
  const proto = header.get('proto');
  const first = exts[i];
  const l4 =
    proto && first && (first.kind === 'tcp' || first.kind === 'udp' || first.kind === 'sctp')
      ? first
      : undefined;
  if (l4) {
    parts.push(`-m ${l4.kind}`);
    i++;
  }
  if (proto) parts.push(extText(proto, 'restore'));
  const dst = header.get('dst');
  if (dst) parts.push(extText(dst, 'restore'));
  if (l4) {
    const body = extText(l4, 'restore');
    if (body) parts.push(body);
  }
  for (const k of ['src', 'iif', 'oif'] as const) {
    const m = header.get(k);
    if (m) parts.push(extText(m, 'restore'));
  }
  for (; i < exts.length; i++) {
    const m = exts[i]!;
    const body = extText(m, 'restore');
    parts.push(body === '' ? `-m ${moduleName(m)}` : `-m ${moduleName(m)} ${body}`);
  }
  if (rule.target) parts.push(targetText(rule.target, 'restore'));
  return parts.join(' ');
}

function countersText(c: Counters): string {
  return `[${c.packets}:${c.bytes}]`;
}

/** `-A CHAIN ...` as iptables-save prints it. */
export function renderRuleSave(chain: string, rule: Rule): string {
  const args = ruleArgsSave(rule);
  return args === '' ? `-A ${chain}` : `-A ${chain} ${args}`;
}

function byteCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function chainsInSaveOrder(t: Table): Chain[] {
  const builtins = BUILTIN_CHAINS[t.name].map((n) => t.chains.get(n)).filter((c): c is Chain => !!c);
  const users = [...t.chains.values()]
    .filter((c) => c.policy === undefined)
    .sort((a, b) => byteCompare(a.name, b.name));
  return [...builtins, ...users];
}

export interface SaveOptions {
  /** Print `[p:b]` before every rule (iptables-save -c). */
  readonly counters?: boolean;
  /** Print the `# Generated by` / `# Completed on` lines with this version and date. */
  readonly header?: { readonly program?: string; readonly version: string; readonly date: string };
  /** Print only these tables, in this order (default: every table, in the ruleset's order). */
  readonly tables?: readonly string[];
}

/** The ruleset as `iptables-save` prints it. */
export function renderSave(rs: Ruleset, opts: SaveOptions = {}): string {
  const out: string[] = [];
  const names = opts.tables ?? [...rs.tables.keys()];
  const program = opts.header?.program ?? (rs.family === 4 ? 'iptables-save' : 'ip6tables-save');
  for (const name of names) {
    const t = rs.tables.get(name as Table['name']);
    if (!t) continue;
    if (opts.header) out.push(`# Generated by ${program} ${opts.header.version} on ${opts.header.date}`);
    out.push(`*${t.name}`);
    const chains = chainsInSaveOrder(t);
    for (const c of chains) out.push(`:${c.name} ${c.policy ?? '-'} ${countersText(c.counters)}`);
    for (const c of chains) {
      for (const r of c.rules) {
        const line = renderRuleSave(c.name, r);
        out.push(opts.counters ? `${countersText(r.counters)} ${line}` : line);
      }
    }
    out.push('COMMIT');
    if (opts.header) out.push(`# Completed on ${opts.header.date}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export interface RestoreRenderOptions {
  /** Print chain and rule counters (for iptables-restore --counters). */
  readonly counters?: boolean;
  readonly tables?: readonly string[];
}

/** The ruleset as iptables-restore input in kube-proxy's style (chains in creation order). */
export function renderRestore(rs: Ruleset, opts: RestoreRenderOptions = {}): string {
  const out: string[] = [];
  const names = opts.tables ?? [...rs.tables.keys()];
  for (const name of names) {
    const t = rs.tables.get(name as Table['name']);
    if (!t) continue;
    out.push(`*${t.name}`);
    for (const c of t.chains.values())
      out.push(
        `:${c.name} ${c.policy ?? '-'} ${countersText(opts.counters ? c.counters : { packets: 0, bytes: 0 })}`,
      );
    for (const c of t.chains.values()) {
      for (const r of c.rules) {
        const args = ruleArgsRestore(r);
        const line = args === '' ? `-A ${c.name}` : `-A ${c.name} ${args}`;
        out.push(opts.counters ? `${countersText(r.counters)} ${line}` : line);
      }
    }
    out.push('COMMIT');
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
