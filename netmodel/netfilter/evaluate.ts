/**
 * Runs one table's built-in chain for one hook on one packet, as ipt_do_table does:
 *
 *   rules in order; header matches, then extension matches, short-circuit
 *   all matched -> the rule's counters += (1 packet, length bytes), then its target:
 *     ACCEPT / DROP / REJECT / DNAT / SNAT / MASQUERADE / REDIRECT -> verdict for this table
 *     jump CHAIN  -> push the return position, enter CHAIN
 *     goto CHAIN  -> enter CHAIN without pushing (its RETURN goes back to our caller)
 *     RETURN / end of a user chain -> pop; with nothing to pop -> the built-in chain's policy
 *     MARK, CONNMARK, LOG, NOTRACK, CT --notrack, no target -> continue with the next rule
 *   end of the built-in chain -> its policy (and the policy counters)
 *
 * Nothing here throws for traffic; an unknown jump target cannot exist (the loader refuses it).
 */
import type { IP, IPv4 } from '../addr.js';
import { prefixContains } from '../addr.js';
import { type Packet, withMark } from '../packet.js';
import { chance31 } from '../rng.js';
import type { CChain } from './compile.js';
import { compileTable } from './compile.js';
import type { CtView, EvalContext, EvalResult, LogLine, NatRequest, TraceEntry, Verdict } from './context.js';
import type { IpSetStore } from './ipset.js';
import type {
  AddrType,
  ConntrackMatch,
  IpvsMatch,
  Match,
  PhysdevMatch,
  PortMatch,
  RecentMatch,
  SetMatch,
} from './match.js';
import { addrTypeBit, CtStateBit, CtStatus, IPPROTO, TcpFlag } from './match.js';
import type { FlatRun, Program } from './program.js';
import { runHash } from './program.js';
import { protoName } from './protocols.js';
import { renderRuleSave } from './render.js';
import type { BuiltinChain, Counters, Rule, Ruleset, TableName } from './ruleset.js';
import type { Target } from './target.js';
import { natRequest, xmark } from './target.js';

const PROTO_NUM: Record<Packet['proto'], number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58 };

/** Mutable per-evaluation state. */
interface Env {
  readonly pkt: Packet;
  readonly proto: number;
  mark: number;
  ctmark: number;
  readonly ctx: EvalContext;
  readonly table: TableName;
  /** Allocated only when ctx.trace. */
  readonly trace: TraceEntry[] | undefined;
  logs: LogLine[] | undefined;
  notrack: boolean;
  ctmarkChanged: boolean;
}

function ifaceMatches(pattern: string, name: string | undefined): boolean {
  if (name === undefined) return false;
  if (pattern.endsWith('+')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

function inRange(p: PortMatch, port: number): boolean {
  return (port >= p.lo && port <= p.hi) !== p.neg;
}

function defaultAddrType(ip: IP): AddrType {
  if (ip.family === 4) {
    if (ip.n === 0xffffffff) return 'BROADCAST';
    if (ip.n >>> 28 === 0xe) return 'MULTICAST';
    return 'UNICAST';
  }
  return ip.big >> 120n === 0xffn ? 'MULTICAST' : 'UNICAST';
}

/** The packet's TCP flags as the tcp match's --tcp-flags bits (0 for other protocols). */
export function tcpFlagBits(p: Packet): number {
  const f = p.tcp;
  if (!f) return 0;
  return (
    (f.fin ? TcpFlag.FIN : 0) |
    (f.syn ? TcpFlag.SYN : 0) |
    (f.rst ? TcpFlag.RST : 0) |
    (f.ack ? TcpFlag.ACK : 0)
  );
}

/** The state bit the conntrack/state matches see; undefined ct = INVALID (no entry). */
function ctStateBit(ct: CtView | undefined): number {
  switch (ct?.state) {
    case 'NEW':
      return CtStateBit.NEW;
    case 'ESTABLISHED':
      return CtStateBit.ESTABLISHED;
    case 'RELATED':
      return CtStateBit.RELATED;
    case 'UNTRACKED':
      return CtStateBit.UNTRACKED;
    default:
      return CtStateBit.INVALID;
  }
}

function hasEntry(ct: CtView | undefined): ct is CtView {
  return !!ct && ct.state !== 'INVALID' && ct.state !== 'UNTRACKED';
}

/** An address option of the conntrack match (absent: matches). Module functions, not closures per call. */
function ctAddr(a: ConntrackMatch['origSrc'], ip: IP | undefined): boolean {
  return !a || (!!ip && prefixContains(a.prefix, ip) !== a.neg);
}

/** A port option of the conntrack match (absent: matches). */
function ctPort(p: PortMatch | undefined, v: number | undefined): boolean {
  return !p || (v !== undefined && inRange(p, v));
}

function conntrackMatches(m: ConntrackMatch, ct: CtView | undefined): boolean {
  if (m.state) {
    let bit = ctStateBit(ct);
    if (hasEntry(ct)) {
      if ((ct.status ?? 0) & CtStatus.SRC_NAT) bit |= CtStateBit.SNAT;
      if ((ct.status ?? 0) & CtStatus.DST_NAT) bit |= CtStateBit.DNAT;
    }
    if (((m.state.bits & bit) !== 0) === m.state.neg) return false;
  }
  if (!hasEntry(ct)) return m.state !== undefined;
  const orig = ct.orig;
  const reply = ct.reply;
  if (m.proto) {
    if (!orig || (PROTO_NUM[orig.proto] === m.proto.proto) === m.proto.neg) return false;
  }
  if (!ctAddr(m.origSrc, orig?.src) || !ctAddr(m.origDst, orig?.dst)) return false;
  if (!ctAddr(m.replSrc, reply?.src) || !ctAddr(m.replDst, reply?.dst)) return false;
  if (!ctPort(m.origSrcPort, orig?.sport) || !ctPort(m.origDstPort, orig?.dport)) return false;
  if (!ctPort(m.replSrcPort, reply?.sport) || !ctPort(m.replDstPort, reply?.dport)) return false;
  if (m.status && (((ct.status ?? 0) & m.status.bits) !== 0) === m.status.neg) return false;
  if (m.dir && (ct.dir ?? 'ORIGINAL') !== m.dir) return false;
  return true;
}

/** xt_physdev. */
function physdevMatches(m: PhysdevMatch, phys: EvalContext['physdev']): boolean {
  if (!phys) {
    // Not bridged: only inverted options can match.
    for (const o of [m.isBridged, m.isIn, m.isOut, m.in, m.out]) if (o && !o.neg) return false;
    return true;
  }
  const indev = phys.in;
  const outdev = phys.out;
  if (m.isBridged && (outdev !== undefined) === m.isBridged.neg) return false;
  if (m.isIn && (indev !== undefined) === m.isIn.neg) return false;
  if (m.isOut && (outdev !== undefined) === m.isOut.neg) return false;
  if (m.in && indev !== undefined && ifaceMatches(m.in.name, indev) === m.in.neg) return false;
  if (m.out && outdev !== undefined && ifaceMatches(m.out.name, outdev) === m.out.neg) return false;
  return true;
}

function maskedKey(ip: IP, mask: IP): string {
  if (ip.family === 4 && mask.family === 4) return String((ip.n & mask.n) >>> 0);
  if (ip.family === 6 && mask.family === 6) return (ip.big & mask.big).toString();
  return ip.text;
}

/** xt_recent's recent_mt. */
function recentMatches(m: RecentMatch, env: Env): boolean {
  const ctx = env.ctx;
  const p = env.pkt;
  const addr = m.side === 'src' ? p.src : p.dst;
  const key = maskedKey(addr, m.mask);
  const list = ctx.state.recent.list(m.name);
  const ttl = 0; // packets carry no TTL in this model; --rttl compares equal TTLs
  let ret = m.neg;
  const e = list.get(key);
  if (!e) {
    if (m.command !== 'set') return ret;
    list.insert(key, addr.family, ctx.now, ttl);
    return !ret;
  }
  if (m.command === 'set') ret = !ret;
  else if (m.command === 'remove') {
    list.remove(key);
    return !ret;
  } else {
    const since = ctx.now - m.seconds * 1000;
    let hits = 0;
    for (const stamp of e.stamps) {
      if (m.seconds && since > stamp) continue;
      if (!m.hitcount || ++hits >= m.hitcount) {
        ret = !ret;
        break;
      }
    }
    if (m.reap) {
      const last = e.stamps[e.stamps.length - 1];
      if (last === undefined || since > last) {
        list.remove(key);
        return ret;
      }
    }
  }
  if (m.command === 'set' || (m.command === 'update' && ret)) list.touch(e, ctx.now, ttl);
  return ret;
}

/** xt_ipvs's ipvs_mt: not an IPVS packet -> only `! --ipvs` matches; else every option given must hold. */
function ipvsMatches(m: IpvsMatch, v: EvalContext['ipvs']): boolean {
  const prop = v !== undefined;
  const match = prop !== (m.ipvs?.neg ?? false);
  if (!match || !v) return match && !m.vproto && !m.vaddr && !m.vport && !m.vdir && !m.vmethod && !m.vportctl;
  if (m.vproto && (v.vproto === m.vproto.proto) === m.vproto.neg) return false;
  if (m.vaddr && prefixContains(m.vaddr.prefix, v.vaddr) === m.vaddr.neg) return false;
  if (m.vport && (v.vport === m.vport.port) === m.vport.neg) return false;
  if (m.vdir && v.original !== (m.vdir === 'ORIGINAL')) return false;
  if (m.vmethod && (v.method === m.vmethod.method) === m.vmethod.neg) return false;
  if (m.vportctl && ((v.vportctl ?? 0) === m.vportctl.port) === m.vportctl.neg) return false;
  return true;
}

/**
 * Whether a set match's set holds the element the packet gives it (before the match's `!`): the
 * one lookup xt_set's set_match_v4 makes. false when no such set exists. The flow cache keys on
 * these answers instead of on the fields they read.
 */
export function setHolds(m: SetMatch, p: Packet, sets: IpSetStore): boolean {
  return sets.testPacket(m.name, m.dirs, p);
}

function matchOne(m: Match, env: Env): boolean {
  const p = env.pkt;
  switch (m.kind) {
    case 'src':
      return prefixContains(m.prefix, p.src) !== m.neg;
    case 'dst':
      return prefixContains(m.prefix, p.dst) !== m.neg;
    case 'iif':
      return ifaceMatches(m.name, p.iif) !== m.neg;
    case 'oif':
      return ifaceMatches(m.name, p.oif) !== m.neg;
    case 'proto':
      return (env.proto === m.proto) !== m.neg;
    case 'tcp':
    case 'udp':
    case 'sctp': {
      const want = m.kind === 'tcp' ? IPPROTO.TCP : m.kind === 'udp' ? IPPROTO.UDP : IPPROTO.SCTP;
      if (env.proto !== want) return false;
      if (m.sport && !inRange(m.sport, p.sport)) return false;
      if (m.dport && !inRange(m.dport, p.dport)) return false;
      if (m.kind === 'tcp' && m.flags && ((tcpFlagBits(p) & m.flags.mask) === m.flags.comp) === m.flags.neg)
        return false;
      return true;
    }
    case 'icmp':
    case 'icmp6': {
      const want = m.kind === 'icmp' ? IPPROTO.ICMP : IPPROTO.ICMPV6;
      if (env.proto !== want || !p.icmp) return false;
      const hit =
        m.type === 255 || (p.icmp.type === m.type && p.icmp.code >= m.codeLo && p.icmp.code <= m.codeHi);
      return hit !== m.neg;
    }
    case 'comment':
      return true;
    case 'mark':
      return ((env.mark & m.mask) >>> 0 === m.value) !== m.neg;
    case 'connmark':
      if (!hasEntry(env.ctx.ct)) return false;
      return ((env.ctmark & m.mask) >>> 0 === m.value) !== m.neg;
    case 'multiport': {
      if (env.proto !== IPPROTO.TCP && env.proto !== IPPROTO.UDP && env.proto !== IPPROTO.SCTP) return false;
      let hit = false;
      for (const r of m.ports) {
        if (
          (m.dir !== 'dst' && p.sport >= r.lo && p.sport <= r.hi) ||
          (m.dir !== 'src' && p.dport >= r.lo && p.dport <= r.hi)
        ) {
          hit = true;
          break;
        }
      }
      return hit !== m.neg;
    }
    case 'conntrack':
      return conntrackMatches(m, env.ctx.ct);
    case 'state':
      return ((m.bits & ctStateBit(env.ctx.ct)) !== 0) !== m.neg;
    case 'addrtype': {
      const lookup = env.ctx.addrType ?? defaultAddrType;
      const dev = m.limitIfaceIn ? p.iif : m.limitIfaceOut ? p.oif : undefined;
      if (m.src && ((m.src.types & addrTypeBit(lookup(p.src, dev))) !== 0) === m.src.neg) return false;
      if (m.dst && ((m.dst.types & addrTypeBit(lookup(p.dst, dev))) !== 0) === m.dst.neg) return false;
      return true;
    }
    case 'statistic': {
      if (m.mode === 'random') return chance31(env.ctx.rng, m.probability31) !== m.neg;
      let st = env.ctx.state.nth.get(m);
      if (!st) {
        // iptables loads count = (every - 1) - packet (libxt_statistic), so --packet P matches the
        // (P+1)th packet, then every `every`th.
        st = { count: m.every - 1 - m.packet };
        env.ctx.state.nth.set(m, st);
      }
      st.count = st.count === m.every - 1 ? 0 : st.count + 1;
      return (st.count === 0) !== m.neg;
    }
    case 'recent':
      return recentMatches(m, env);
    case 'physdev':
      return physdevMatches(m, env.ctx.physdev);
    case 'set':
      return setHolds(m, p, env.ctx.state.sets) !== m.neg;
    case 'ipvs':
      return ipvsMatches(m, env.ctx.ipvs);
    case 'nfacct':
      env.ctx.state.nfacct.add(m.name, p.length);
      return true;
    default: {
      const never: never = m;
      return never;
    }
  }
}

function logText(prefix: string, p: Packet, mark: number): string {
  const ports = p.proto === 'icmp' || p.proto === 'icmpv6' ? '' : ` SPT=${p.sport} DPT=${p.dport}`;
  const markText = mark ? ` MARK=0x${mark.toString(16)}` : '';
  return `${prefix}IN=${p.iif ?? ''} OUT=${p.oif ?? ''} SRC=${p.src.text} DST=${p.dst.text} LEN=${p.length} PROTO=${protoName(PROTO_NUM[p.proto]).toUpperCase()}${ports}${markText}`;
}

const ACCEPT: Verdict = { kind: 'ACCEPT' };
const DROP: Verdict = { kind: 'DROP' };
const EMPTY: readonly never[] = [];

function newEnv(table: TableName, chain: string, packet: Packet, ctx: EvalContext): Env {
  return {
    pkt: packet,
    proto: PROTO_NUM[packet.proto],
    mark: packet.mark,
    ctmark: ctx.ct?.mark ?? 0,
    ctx,
    table,
    trace: ctx.trace === true ? [{ kind: 'chain', table, chain }] : undefined,
    logs: undefined,
    notrack: false,
    ctmarkChanged: false,
  };
}

/** The result; the packet is copied only when its mark changed. Optional keys only when present. */
function finish(env: Env, verdict: Verdict, byPolicy: boolean, nat: NatRequest | undefined): EvalResult {
  const packet = env.pkt;
  const pkt = env.mark !== packet.mark ? withMark(packet, env.mark) : packet;
  const notrack = env.notrack;
  const trace = env.trace ?? EMPTY;
  const logs = env.logs ?? EMPTY;
  if (nat) {
    if (env.ctmarkChanged)
      return { verdict, byPolicy, packet: pkt, nat, ctMark: env.ctmark, notrack, trace, logs };
    return { verdict, byPolicy, packet: pkt, nat, notrack, trace, logs };
  }
  if (env.ctmarkChanged) return { verdict, byPolicy, packet: pkt, ctMark: env.ctmark, notrack, trace, logs };
  return { verdict, byPolicy, packet: pkt, notrack, trace, logs };
}

/** finish(env, ACCEPT, false, nat) for a nat known to be present (its object is not read). */
function finishNat(env: Env, nat: NatRequest): EvalResult {
  const packet = env.pkt;
  const pkt = env.mark !== packet.mark ? withMark(packet, env.mark) : packet;
  const trace = env.trace ?? EMPTY;
  const logs = env.logs ?? EMPTY;
  if (env.ctmarkChanged)
    return {
      verdict: ACCEPT,
      byPolicy: false,
      packet: pkt,
      nat,
      ctMark: env.ctmark,
      notrack: env.notrack,
      trace,
      logs,
    };
  return { verdict: ACCEPT, byPolicy: false, packet: pkt, nat, notrack: env.notrack, trace, logs };
}

/** The built-in chain's policy: its counters, a trace entry, the verdict. */
function policy(env: Env, pol: 'ACCEPT' | 'DROP' | undefined, counters: Counters, chain: string): EvalResult {
  const p = pol ?? 'ACCEPT';
  counters.packets++;
  counters.bytes += env.pkt.length;
  env.ctx.counted?.push(counters);
  env.trace?.push({ kind: 'policy', table: env.table, chain, policy: p });
  return finish(env, p === 'ACCEPT' ? ACCEPT : DROP, true, undefined);
}

function traceRule(env: Env, chain: string, num: number, rule: Rule): void {
  env.trace?.push({ kind: 'rule', table: env.table, chain, num, rule, text: renderRuleSave(chain, rule) });
}

/**
 * A target other than RETURN/jump/goto (the interpreters handle those): the result when it ends the
 * table's traversal, undefined when evaluation continues with the next rule.
 */
function applyTarget(t: Target, env: Env, chain: string, num: number): EvalResult | undefined {
  switch (t.kind) {
    case 'ACCEPT':
      return finish(env, ACCEPT, false, undefined);
    case 'DROP':
      return finish(env, DROP, false, undefined);
    case 'REJECT':
      return finish(env, { kind: 'REJECT', with: t.with }, false, undefined);
    case 'LOG': {
      env.logs ??= [];
      const prefix = t.prefix ?? '';
      env.logs.push({
        table: env.table,
        chain,
        num,
        prefix,
        level: t.level,
        text: logText(prefix, env.pkt, env.mark),
      });
      return undefined;
    }
    case 'MARK':
      env.mark = xmark(env.mark, t.value, t.mask);
      return undefined;
    case 'CONNMARK':
      if (hasEntry(env.ctx.ct)) {
        if (t.mode === 'set') {
          env.ctmark = xmark(env.ctmark, t.value, t.mask);
          env.ctmarkChanged = true;
        } else if (t.mode === 'save') {
          env.ctmark = ((env.ctmark & ~t.ctmask) ^ (env.mark & t.nfmask)) >>> 0;
          env.ctmarkChanged = true;
        } else {
          env.mark = ((env.mark & ~t.nfmask) ^ (env.ctmark & t.ctmask)) >>> 0;
        }
      }
      return undefined;
    case 'NOTRACK':
    case 'CT':
      env.notrack = true;
      return undefined;
    case 'CHECKSUM':
      return undefined;
    case 'DNAT':
    case 'SNAT':
    case 'MASQUERADE':
    case 'REDIRECT':
      return finish(env, ACCEPT, false, natRequest(t, env.ctx.rng));
    case 'RETURN':
    case 'jump':
    case 'goto':
      return assertNever(`${t.kind} handled by the interpreter`);
    default: {
      const never: never = t;
      return never;
    }
  }
}

function assertNever(what: string): never {
  throw new Error(`kpath internal error: ${what}`);
}

/**
 * Evaluates `chain` (a built-in chain) of `table` for one packet. Counters in the ruleset are updated.
 * A table that is not loaded, or lacks the chain, accepts (as a hook with no table registered).
 *
 * ctx.index !== false runs the compiled flat program with the dispatch index (`runFast`);
 * ctx.index === false runs the plain reference interpreter over the rule objects (`runReference`).
 * The two give identical results, counters, traces and Rng draws (test/netfilter/index.test.ts).
 */
export function evaluate(
  rs: Ruleset,
  tableName: TableName,
  chainName: BuiltinChain,
  packet: Packet,
  ctx: EvalContext,
): EvalResult {
  const table = rs.tables.get(tableName);
  if (table) {
    const compiled = compileTable(table);
    if (ctx.index === false) {
      const base = compiled.chains.get(chainName);
      if (base) return runReference(tableName, base, packet, ctx);
    } else {
      const P = compiled.program;
      const id = P.chainId.get(chainName);
      if (id !== undefined) {
        if (P.policyOnly[id] === 1 && ctx.trace !== true) return policyOnly(P, id, packet, ctx);
        return runFast(tableName, P, id, packet, ctx);
      }
    }
  }
  return { verdict: ACCEPT, byPolicy: true, packet, notrack: false, trace: EMPTY, logs: EMPTY };
}

/**
 * The verdict of a built-in chain that has no rules (its policy; the policy's counters are
 * counted), or undefined when the chain has rules and must be evaluated. A table or chain that is
 * not loaded accepts, as in evaluate. For callers that need no EvalResult in the common case (the
 * walker's untraced walks pass most hooks' raw and mangle tables this way).
 */
export function policyVerdict(
  rs: Ruleset,
  tableName: TableName,
  chainName: BuiltinChain,
  packet: Packet,
): Verdict | undefined {
  const table = rs.tables.get(tableName);
  if (!table) return ACCEPT;
  const P = compileTable(table).program;
  const id = P.chainId.get(chainName);
  if (id === undefined) return ACCEPT;
  return P.policyOnly[id] === 1 ? countPolicy(P, id, packet) : undefined;
}

/**
 * A built-in chain without rules, untraced: what runFast ends with (the policy's counters and verdict,
 * the packet unchanged), without setting up an evaluation.
 */
function policyOnly(P: Program, id: number, packet: Packet, ctx: EvalContext): EvalResult {
  ctx.counted?.push(P.chainCounters[id]!);
  return {
    verdict: countPolicy(P, id, packet),
    byPolicy: true,
    packet,
    notrack: false,
    trace: EMPTY,
    logs: EMPTY,
  };
}

/** A built-in chain's policy for one packet, counted on the chain. */
function countPolicy(P: Program, id: number, packet: Packet): Verdict {
  const counters = P.chainCounters[id]!;
  counters.packets++;
  counters.bytes += packet.length;
  return (P.chainPolicy[id] ?? 'ACCEPT') === 'ACCEPT' ? ACCEPT : DROP;
}

/** Plain linear evaluation over the rule objects, as ipt_do_table reads it. The reference. */
function runReference(tableName: TableName, base: CChain, packet: Packet, ctx: EvalContext): EvalResult {
  const env = newEnv(tableName, base.name, packet, ctx);
  const stackChain: CChain[] = [];
  const stackPc: number[] = [];
  let chain = base;
  let pc = 0;
  for (;;) {
    const rules = chain.rules;
    if (pc >= rules.length) {
      // Fall-through: policy for the built-in chain, implicit RETURN for a user chain.
      if (chain === base || stackChain.length === 0)
        return policy(env, base.chain.policy, base.chain.counters, base.name);
      env.trace?.push({ kind: 'return', table: tableName, chain: chain.name });
      chain = stackChain.pop()!;
      pc = stackPc.pop()!;
      continue;
    }
    const r = rules[pc]!;
    let ok = true;
    for (const m of r.matches) {
      if (!matchOne(m, env)) {
        ok = false;
        break;
      }
    }
    if (!ok) {
      pc++;
      continue;
    }
    r.rule.counters.packets++;
    r.rule.counters.bytes += packet.length;
    ctx.counted?.push(r.rule.counters);
    if (env.trace) traceRule(env, chain.name, pc + 1, r.rule);
    const t = r.target;
    if (!t) {
      pc++;
      continue;
    }
    if (t.kind === 'RETURN') {
      if (stackChain.length === 0) return policy(env, base.chain.policy, base.chain.counters, base.name);
      env.trace?.push({ kind: 'return', table: tableName, chain: chain.name });
      chain = stackChain.pop()!;
      pc = stackPc.pop()!;
      continue;
    }
    if (t.kind === 'jump' || t.kind === 'goto') {
      const to = r.jumpTo;
      if (!to) return assertNever(`jump target ${t.chain} resolved at load time`);
      if (t.kind === 'jump') {
        stackChain.push(chain);
        stackPc.push(pc + 1);
      }
      chain = to;
      pc = 0;
      env.trace?.push({ kind: 'chain', table: tableName, chain: to.name });
      continue;
    }
    const res = applyTarget(t, env, chain.name, pc + 1);
    if (res) return res;
    pc++;
  }
}

/** The first record at or after rule number `num` in `run` whose key is the packet's, or -1. */
function runNext(run: FlatRun, dst: number, key: number, hash: number, num: number): number {
  const mask = run.mask;
  const slots = run.slots;
  for (let s = hash & mask; ; s = (s + 1) & mask) {
    const i = s * 5; // SLOT_STRIDE
    const k = slots[i]!;
    if (k === 0) return -1;
    if (k === key && slots[i + 1] === dst) {
      const count = slots[i + 2]!;
      if (count === 1) return slots[i + 4]! >= num ? slots[i + 3]! : -1;
      const pos = run.pos;
      const o = slots[i + 3]!;
      for (let j = o; j < o + 2 * count; j += 2) if (pos[j]! >= num) return pos[j + 1]!;
      return -1;
    }
  }
}

/**
 * Per nesting depth of evaluate (a callback such as ctx.addrType may evaluate again), reused: the jump
 * stack (return offsets) and the path (global numbers of the rules that matched, in order).
 */
interface Frame {
  readonly stack: number[];
  readonly path: number[];
  n: number;
}
const frames: Frame[] = [];
let depth = 0;

/**
 * The flat program (program.ts) with the dispatch index. Same semantics as runReference.
 *
 * Rule counters are added when the traversal ends, from the recorded path: nothing reads them during
 * a traversal, and updating the (scattered, usually uncached) counter objects in one tight loop lets
 * the CPU overlap those cache misses instead of stalling on each one in the middle of the walk.
 */
function runFast(
  tableName: TableName,
  P: Program,
  baseId: number,
  packet: Packet,
  ctx: EvalContext,
): EvalResult {
  let f = frames[depth];
  if (!f) {
    f = { stack: [], path: [], n: 0 };
    frames[depth] = f;
  }
  depth++;
  f.n = 0;
  try {
    return runFastOn(tableName, P, baseId, packet, ctx, f);
  } finally {
    depth--;
    const counters = P.counters;
    const path = f.path;
    const len = packet.length;
    const out = ctx.counted;
    for (let i = 0; i < f.n; i++) {
      const c = counters[path[i]!]!;
      c.packets++;
      c.bytes += len;
      if (out) out.push(c);
    }
  }
}

/*
 * Record fields (program.ts REC) and codes (OP, TC) are written as literals below so the switches
 * compile to jump tables: G 0, NOPS 1, TCODE 2, A 3, B 4, CHAIN 5, RUN 6, NUM 7, NEXT 8; header 9.
 */
function runFastOn(
  tableName: TableName,
  P: Program,
  baseId: number,
  packet: Packet,
  ctx: EvalContext,
  f: Frame,
): EvalResult {
  const stack = f.stack;
  const path = f.path;
  const code = P.code;
  const chainName = P.chainName;
  const env = newEnv(tableName, chainName[baseId]!, packet, ctx);
  const proto = env.proto;
  const srcIs4 = packet.src.family === 4;
  const dstIs4 = packet.dst.family === 4;
  const src = srcIs4 ? (packet.src as IPv4).n | 0 : 0;
  const dst = dstIs4 ? (packet.dst as IPv4).n | 0 : 0;
  const sport = packet.sport;
  const dport = packet.dport;
  const key = (proto << 16) | dport;
  const hash = runHash(dst, key);
  let sp = 0;
  let pc = P.chainStart[baseId]!;
  for (;;) {
    const run = code[pc + 6]!;
    if (run >= 0) {
      // Every rule of a run matches exactly the packets with its key: the record found matches.
      const r = P.runs[run]!;
      const found = dstIs4 ? runNext(r, dst, key, hash, code[pc + 7]!) : -1;
      if (found < 0) {
        pc = r.end;
        continue;
      }
      pc = found;
    } else {
      let ok = true;
      const oe = pc + 9 + code[pc + 1]! * 4;
      for (let o = pc + 9; o < oe; o += 4) {
        const a = code[o + 1]!;
        const b = code[o + 2]!;
        const neg = code[o + 3] !== 0;
        switch (code[o]) {
          case 1: // SRC4
            ok = (srcIs4 && (src & a) === b) !== neg;
            break;
          case 2: // DST4
            ok = (dstIs4 && (dst & a) === b) !== neg;
            break;
          case 3: // PROTO
            ok = (proto === a) !== neg;
            break;
          case 4: // L4
            ok = proto === a;
            break;
          case 5: // SPORT
            ok = (sport >= a && sport <= b) !== neg;
            break;
          case 6: // DPORT
            ok = (dport >= a && dport <= b) !== neg;
            break;
          case 7: // MARK
            ok = ((env.mark & a) === b) !== neg;
            break;
          case 8: // RANDOM
            ok = chance31(ctx.rng, a) !== neg;
            break;
          default: // GENERIC
            ok = matchOne(P.matches[a]!, env);
        }
        if (!ok) break;
      }
      if (!ok) {
        pc = code[pc + 8]!;
        continue;
      }
    }
    const tcode = code[pc + 2]!;
    if (tcode === 9) {
      // END: policy for the built-in chain, implicit RETURN for a user chain.
      if (code[pc + 5] === baseId || sp === 0)
        return policy(env, P.chainPolicy[baseId], P.chainCounters[baseId]!, chainName[baseId]!);
      env.trace?.push({ kind: 'return', table: tableName, chain: chainName[code[pc + 5]!]! });
      pc = stack[--sp]!;
      continue;
    }
    const g = code[pc + 0]!;
    path[f.n++] = g;
    if (env.trace) traceRule(env, chainName[code[pc + 5]!]!, code[pc + 7]!, P.rules[g]!);
    switch (tcode) {
      case 0: // NONE
        pc = code[pc + 8]!;
        continue;
      case 1: // ACCEPT
        return finish(env, ACCEPT, false, undefined);
      case 2: // DROP
        return finish(env, DROP, false, undefined);
      case 3: // RETURN
        if (sp === 0) return policy(env, P.chainPolicy[baseId], P.chainCounters[baseId]!, chainName[baseId]!);
        env.trace?.push({ kind: 'return', table: tableName, chain: chainName[code[pc + 5]!]! });
        pc = stack[--sp]!;
        continue;
      case 4: // JUMP
        stack[sp++] = code[pc + 8]!;
        pc = code[pc + 3]!;
        env.trace?.push({ kind: 'chain', table: tableName, chain: chainName[code[pc + 5]!]! });
        continue;
      case 5: // GOTO
        pc = code[pc + 3]!;
        env.trace?.push({ kind: 'chain', table: tableName, chain: chainName[code[pc + 5]!]! });
        continue;
      case 6: // MARK
        env.mark = xmark(env.mark, code[pc + 3]!, code[pc + 4]!);
        pc = code[pc + 8]!;
        continue;
      case 7: // NAT, fixed
        return finishNat(env, P.nat[g]!);
      default: {
        const res = applyTarget(P.rules[g]!.target!, env, chainName[code[pc + 5]!]!, code[pc + 7]!);
        if (res) return res;
        pc = code[pc + 8]!;
      }
    }
  }
}
