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
import type { IP } from '../addr.js';
import { prefixContains, v4, v6 } from '../addr.js';
import { assert } from '../errors.js';
import type { Packet } from '../packet.js';
import type { CChain, CRule } from './compile.js';
import { compileTable } from './compile.js';
import type { CtView, EvalContext, EvalResult, LogLine, NatRequest, TraceEntry, Verdict } from './context.js';
import type { IpSetElement } from './ipset.js';
import { IPSET_DIMENSIONS } from './ipset.js';
import type { AddrType, ConntrackMatch, Match, PhysdevMatch, PortMatch, RecentMatch } from './match.js';
import { addrTypeBit, CtStateBit, CtStatus, IPPROTO, TcpFlag } from './match.js';
import { protoName } from './protocols.js';
import { renderRuleSave } from './render.js';
import type { BuiltinChain, Ruleset, TableName } from './ruleset.js';
import { xmark } from './target.js';

const PROTO_NUM: Record<Packet['proto'], number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmpv6: 58 };

/** Mutable per-evaluation state. */
interface Env {
  pkt: Packet;
  readonly proto: number;
  mark: number;
  ctmark: number;
  readonly ctx: EvalContext;
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

function tcpFlagBits(p: Packet): number {
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
  const addr = (a: ConntrackMatch['origSrc'], ip: IP | undefined) =>
    !a || (!!ip && prefixContains(a.prefix, ip) !== a.neg);
  if (!addr(m.origSrc, orig?.src) || !addr(m.origDst, orig?.dst)) return false;
  if (!addr(m.replSrc, reply?.src) || !addr(m.replDst, reply?.dst)) return false;
  const port = (p: PortMatch | undefined, v: number | undefined) => !p || (v !== undefined && inRange(p, v));
  if (!port(m.origSrcPort, orig?.sport) || !port(m.origDstPort, orig?.dport)) return false;
  if (!port(m.replSrcPort, reply?.sport) || !port(m.replDstPort, reply?.dport)) return false;
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

function setElement(
  dims: readonly ('ip' | 'port' | 'ip2')[],
  dirs: readonly ('src' | 'dst')[],
  env: Env,
): IpSetElement {
  const p = env.pkt;
  const e: { ip?: IP; proto?: number; port?: number; ip2?: IP } = {};
  for (let i = 0; i < dims.length && i < dirs.length; i++) {
    const src = dirs[i] === 'src';
    switch (dims[i]) {
      case 'ip':
        e.ip = src ? p.src : p.dst;
        break;
      case 'port':
        e.proto = env.proto;
        e.port = src ? p.sport : p.dport;
        break;
      case 'ip2':
        e.ip2 = src ? p.src : p.dst;
        break;
    }
  }
  return e;
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
      if (m.mode === 'random') return (env.ctx.rng.uint32() & 0x7fffffff) < m.probability31 !== m.neg;
      let st = env.ctx.state.nth.get(m);
      if (!st) {
        st = { count: m.packet };
        env.ctx.state.nth.set(m, st);
      }
      st.count = st.count === m.every - 1 ? 0 : st.count + 1;
      return (st.count === 0) !== m.neg;
    }
    case 'recent':
      return recentMatches(m, env);
    case 'physdev':
      return physdevMatches(m, env.ctx.physdev);
    case 'set': {
      const set = env.ctx.state.sets.get(m.name);
      if (!set) return m.neg;
      const hit = env.ctx.state.sets.test(m.name, setElement(IPSET_DIMENSIONS[set.type], m.dirs, env));
      return hit !== m.neg;
    }
    case 'nfacct':
      env.ctx.state.nfacct.add(m.name, p.length);
      return true;
    default: {
      const never: never = m;
      return never;
    }
  }
}

function pick(rng: EvalContext['rng'], lo: number, hi: number): number {
  return hi > lo ? lo + (rng.uint32() % (hi - lo + 1)) : lo;
}

function pickIp(rng: EvalContext['rng'], lo: IP | undefined, hi: IP | undefined): IP | undefined {
  if (!lo || !hi || lo.text === hi.text) return lo;
  if (lo.family === 4 && hi.family === 4) return v4(pick(rng, lo.n, hi.n));
  if (lo.family === 6 && hi.family === 6) {
    // IPv6 ranges wider than 2^32 addresses are sampled in their first 2^32 only.
    const span = hi.big - lo.big;
    return v6(lo.big + (span >= 0xffffffffn ? BigInt(rng.uint32()) : BigInt(rng.uint32()) % (span + 1n)));
  }
  return lo;
}

function logText(prefix: string, p: Packet, mark: number): string {
  const ports = p.proto === 'icmp' || p.proto === 'icmpv6' ? '' : ` SPT=${p.sport} DPT=${p.dport}`;
  const markText = mark ? ` MARK=0x${mark.toString(16)}` : '';
  return `${prefix}IN=${p.iif ?? ''} OUT=${p.oif ?? ''} SRC=${p.src.text} DST=${p.dst.text} LEN=${p.length} PROTO=${protoName(PROTO_NUM[p.proto]).toUpperCase()}${ports}${markText}`;
}

type MatchFn = (env: Env) => boolean;

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** A match as a closure over its constants (monomorphic and cache-friendly on the hot path). */
function compileMatch(m: Match): MatchFn | undefined {
  switch (m.kind) {
    case 'comment':
      return undefined;
    case 'src':
    case 'dst': {
      if (m.prefix.ip.family !== 4) break;
      const net = m.prefix.ip.n;
      const mask = maskOf(m.prefix.bits);
      const neg = m.neg;
      if (m.kind === 'src')
        return (env) => (env.pkt.src.family === 4 && (env.pkt.src.n & mask) >>> 0 === net) !== neg;
      return (env) => (env.pkt.dst.family === 4 && (env.pkt.dst.n & mask) >>> 0 === net) !== neg;
    }
    case 'proto': {
      const proto = m.proto;
      const neg = m.neg;
      return (env) => (env.proto === proto) !== neg;
    }
    case 'tcp':
    case 'udp':
    case 'sctp': {
      if (m.kind === 'tcp' && m.flags) break;
      const want = m.kind === 'tcp' ? IPPROTO.TCP : m.kind === 'udp' ? IPPROTO.UDP : IPPROTO.SCTP;
      const sp = m.sport;
      const dp = m.dport;
      if (!sp && !dp) return (env) => env.proto === want;
      if (!sp && dp) {
        const { lo, hi, neg } = dp;
        return (env) => env.proto === want && (env.pkt.dport >= lo && env.pkt.dport <= hi) !== neg;
      }
      break;
    }
    case 'mark': {
      const { value, mask, neg } = m;
      return (env) => ((env.mark & mask) >>> 0 === value) !== neg;
    }
    case 'statistic':
      if (m.mode === 'random') {
        const { probability31, neg } = m;
        return (env) => (env.ctx.rng.uint32() & 0x7fffffff) < probability31 !== neg;
      }
      break;
    default:
      break;
  }
  return (env) => matchOne(m, env);
}

function testsOf(r: CRule): MatchFn[] {
  let t = r.tests as MatchFn[] | undefined;
  if (!t) {
    t = [];
    for (const m of r.matches) {
      const fn = compileMatch(m);
      if (fn) t.push(fn);
    }
    r.tests = t as ((env: never) => boolean)[];
  }
  return t;
}

const ACCEPT: Verdict = { kind: 'ACCEPT' };
const DROP: Verdict = { kind: 'DROP' };
const EMPTY: readonly never[] = [];

/**
 * Evaluates `chain` (a built-in chain) of `table` for one packet. Counters in the ruleset are updated.
 * A table that is not loaded, or lacks the chain, accepts (as a hook with no table registered).
 */
export function evaluate(
  rs: Ruleset,
  tableName: TableName,
  chainName: BuiltinChain,
  packet: Packet,
  ctx: EvalContext,
): EvalResult {
  const table = rs.tables.get(tableName);
  const base = table ? compileTable(table).chains.get(chainName) : undefined;
  if (!table || !base)
    return { verdict: ACCEPT, byPolicy: true, packet, notrack: false, trace: EMPTY, logs: EMPTY };
  return run(tableName, base, packet, ctx);
}

function run(tableName: TableName, base: CChain, packet: Packet, ctx: EvalContext): EvalResult {
  const env: Env = {
    pkt: packet,
    proto: PROTO_NUM[packet.proto],
    mark: packet.mark,
    ctmark: ctx.ct?.mark ?? 0,
    ctx,
  };
  const useIndex = ctx.index !== false;
  const tracing = ctx.trace === true;
  const trace: TraceEntry[] | undefined = tracing
    ? [{ kind: 'chain', table: tableName, chain: base.name }]
    : undefined;
  let logs: LogLine[] | undefined;
  let notrack = false;
  let ctmarkChanged = false;
  const stackChain: CChain[] = [];
  const stackPc: number[] = [];
  let chain = base;
  let pc = 0;
  const dstN = packet.dst.family === 4 ? packet.dst.n : -1;
  const idxKey = (env.proto << 16) | packet.dport;

  const finish = (verdict: Verdict, byPolicy: boolean, nat?: NatRequest): EvalResult => {
    const pkt = env.mark !== packet.mark ? { ...packet, mark: env.mark } : packet;
    return {
      verdict,
      byPolicy,
      packet: pkt,
      ...(nat ? { nat } : {}),
      ...(ctmarkChanged ? { ctMark: env.ctmark } : {}),
      notrack,
      trace: trace ?? EMPTY,
      logs: logs ?? EMPTY,
    };
  };
  const policy = (): EvalResult => {
    const pol = base.chain.policy ?? 'ACCEPT';
    base.chain.counters.packets++;
    base.chain.counters.bytes += packet.length;
    trace?.push({ kind: 'policy', table: tableName, chain: base.name, policy: pol });
    return finish(pol === 'ACCEPT' ? ACCEPT : DROP, true);
  };

  for (;;) {
    const rules = chain.rules;
    if (pc >= rules.length) {
      // Fall-through: policy for the built-in chain, implicit RETURN for a user chain.
      if (chain === base || stackChain.length === 0) return policy();
      trace?.push({ kind: 'return', table: tableName, chain: chain.name });
      chain = stackChain.pop()!;
      pc = stackPc.pop()!;
      continue;
    }
    if (useIndex) {
      const runInfo = chain.runAt[pc];
      if (runInfo) {
        const list = dstN >= 0 ? runInfo.map.get(dstN)?.get(idxKey) : undefined;
        let next = runInfo.end;
        if (list) {
          for (const k of list) {
            if (k >= pc) {
              next = k;
              break;
            }
          }
        }
        pc = next;
        if (pc >= runInfo.end) continue;
      }
    }
    const r = rules[pc]!;
    let ok = true;
    const ms = testsOf(r);
    for (let i = 0; i < ms.length; i++) {
      if (!ms[i]!(env)) {
        ok = false;
        break;
      }
    }
    if (!ok) {
      pc++;
      continue;
    }
    const counters = r.rule.counters;
    counters.packets++;
    counters.bytes += packet.length;
    if (trace) {
      trace.push({
        kind: 'rule',
        table: tableName,
        chain: chain.name,
        num: pc + 1,
        rule: r.rule,
        text: renderRuleSave(chain.name, r.rule),
      });
    }
    const t = r.target;
    if (!t) {
      pc++;
      continue;
    }
    switch (t.kind) {
      case 'ACCEPT':
        return finish(ACCEPT, false);
      case 'DROP':
        return finish(DROP, false);
      case 'REJECT':
        return finish({ kind: 'REJECT', with: t.with }, false);
      case 'RETURN':
        if (stackChain.length === 0) return policy();
        trace?.push({ kind: 'return', table: tableName, chain: chain.name });
        chain = stackChain.pop()!;
        pc = stackPc.pop()!;
        continue;
      case 'jump':
      case 'goto': {
        const to = r.jumpTo;
        assert(to, `jump target ${t.chain} resolved at load time`);
        if (t.kind === 'jump') {
          stackChain.push(chain);
          stackPc.push(pc + 1);
        }
        chain = to;
        pc = 0;
        trace?.push({ kind: 'chain', table: tableName, chain: to.name });
        continue;
      }
      case 'LOG': {
        logs ??= [];
        const prefix = t.prefix ?? '';
        logs.push({
          table: tableName,
          chain: chain.name,
          num: pc + 1,
          prefix,
          level: t.level,
          text: logText(prefix, env.pkt, env.mark),
        });
        pc++;
        continue;
      }
      case 'MARK':
        env.mark = xmark(env.mark, t.value, t.mask);
        pc++;
        continue;
      case 'CONNMARK':
        if (hasEntry(ctx.ct)) {
          if (t.mode === 'set') {
            env.ctmark = xmark(env.ctmark, t.value, t.mask);
            ctmarkChanged = true;
          } else if (t.mode === 'save') {
            env.ctmark = ((env.ctmark & ~t.ctmask) ^ (env.mark & t.nfmask)) >>> 0;
            ctmarkChanged = true;
          } else {
            env.mark = ((env.mark & ~t.nfmask) ^ (env.ctmark & t.ctmask)) >>> 0;
          }
        }
        pc++;
        continue;
      case 'NOTRACK':
      case 'CT':
        notrack = true;
        pc++;
        continue;
      case 'DNAT':
      case 'SNAT': {
        const r0 = t.range;
        const ip = pickIp(ctx.rng, r0.minIp, r0.maxIp);
        const port =
          r0.minPort === undefined ? undefined : pick(ctx.rng, r0.minPort, r0.maxPort ?? r0.minPort);
        const nat: NatRequest = {
          kind: t.kind,
          ...(ip ? { ip } : {}),
          ...(port !== undefined ? { port } : {}),
          random: t.random,
          randomFully: t.randomFully,
          persistent: t.persistent,
        };
        return finish(ACCEPT, false, nat);
      }
      case 'MASQUERADE': {
        const port = t.minPort === undefined ? undefined : pick(ctx.rng, t.minPort, t.maxPort ?? t.minPort);
        return finish(ACCEPT, false, {
          kind: 'MASQUERADE',
          ...(port !== undefined ? { port } : {}),
          random: t.random,
          randomFully: t.randomFully,
        });
      }
      case 'REDIRECT': {
        const port = t.minPort === undefined ? undefined : pick(ctx.rng, t.minPort, t.maxPort ?? t.minPort);
        return finish(ACCEPT, false, {
          kind: 'REDIRECT',
          ...(port !== undefined ? { port } : {}),
          random: t.random,
        });
      }
      default: {
        const never: never = t;
        return never;
      }
    }
  }
}
