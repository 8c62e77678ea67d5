/**
 * A megaflow cache for table evaluation (what Open vSwitch does for its classifier): the result of
 * evaluating one built-in chain of one table for a packet is remembered under the packet's *flow
 * shape*, the values of only those fields that some rule reachable from that chain can read, and
 * replayed for the next packet with the same shape: the same verdict, mark, NAT request and notrack,
 * and the same rule and policy counters counted (one packet, its length in bytes).
 *
 * It is exact, not a heuristic:
 * - The mask is computed once per (ruleset, table, chain) from the rules themselves (`chainShape`): every
 *   match kind states the fields it reads (an addrtype match: the addresses, the devices with
 *   --limit-iface-*, and the node's routing). The protocol is always part of the shape.
 * - A set match puts its lookup's answer (is the packet's element in the set?) into the shape, not
 *   the addresses and ports the lookup reads (OVS's staged lookup: what only the set examined stays
 *   wildcarded), unless other matches read those fields anyway. ipvs mode's filter INPUT looks up
 *   the reply's destination (a new port per connection) in its service sets: one shape for all.
 * - A chain is cached only when every rule reachable from it is a pure function of those fields:
 *   statistic, recent and nfacct matches, LOG and CONNMARK targets, and NAT targets whose range makes
 *   an Rng draw make the whole (table, chain) uncached; it is evaluated as before, every time.
 * - What the shape cannot see is a stamp: the ruleset object (rules are immutable; every load makes
 *   a new Ruleset, so a sync starts an empty cache), the ipset store's generation and the caller's
 *   routing generation (addrtype). A stamp change empties the cache.
 * - On a miss the chain is evaluated with `ctx.counted`, which lists exactly the counters the traversal
 *   adds to (the matched rules', the policy's when it ends there); the list is what a hit replays.
 * - A (table, chain) whose shapes rarely repeat (a port match on the masqueraded reply port, say) stops
 *   caching until the next stamp change: more than half misses after 256 lookups.
 *
 * The walker uses it for untraced walks (`kpath trace` always evaluates). test/kernel/fastpath.test.ts
 * compares it with plain evaluation over random rulesets, packets and flows.
 */
import type { IP } from '../addr.js';
import { type Packet, withMark } from '../packet.js';
import type { CtTuple, EvalContext, EvalResult, NatRequest, Verdict } from './context.js';
import { evaluate, setHolds, tcpFlagBits } from './evaluate.js';
import type { IpSetStore } from './ipset.js';
import type { Match, SetMatch } from './match.js';
import { CtStatus } from './match.js';
import type { BuiltinChain, Counters, Ruleset, Table, TableName } from './ruleset.js';
import type { Target } from './target.js';

/** Fields of a packet's flow shape (bits of a plan's mask). */
const F = {
  SRC: 1,
  DST: 2,
  IIF: 4,
  OIF: 8,
  SPORT: 16,
  DPORT: 32,
  TCPFLAGS: 64,
  ICMP: 128,
  MARK: 256,
  /** The conntrack state the state/conntrack --ctstate matches see (with the SNAT/DNAT status bits). */
  CTSTATE: 512,
  /** The whole conntrack view: state, status, direction, both tuples. */
  CT: 1024,
  CTMARK: 2048,
  PHYSDEV: 4096,
  IPVS: 8192,
} as const;

const EMPTY: readonly never[] = [];

/** A (table, chain) that cannot be cached: some reachable rule is not a pure function of the packet. */
const IMPURE = -1;

/** The fields a match reads, or IMPURE. */
function matchMask(m: Match): number {
  switch (m.kind) {
    case 'src':
      return F.SRC;
    case 'dst':
      return F.DST;
    case 'iif':
      return F.IIF;
    case 'oif':
      return F.OIF;
    case 'proto':
    case 'comment':
      return 0;
    case 'tcp':
      return (m.sport ? F.SPORT : 0) | (m.dport ? F.DPORT : 0) | (m.flags ? F.TCPFLAGS : 0);
    case 'udp':
    case 'sctp':
      return (m.sport ? F.SPORT : 0) | (m.dport ? F.DPORT : 0);
    case 'icmp':
    case 'icmp6':
      return F.ICMP;
    case 'mark':
      return F.MARK;
    case 'connmark':
      return F.CTMARK | F.CTSTATE;
    case 'multiport':
      return m.dir === 'src' ? F.SPORT : m.dir === 'dst' ? F.DPORT : F.SPORT | F.DPORT;
    case 'conntrack': {
      const onlyState =
        !m.proto &&
        !m.origSrc &&
        !m.origDst &&
        !m.replSrc &&
        !m.replDst &&
        !m.origSrcPort &&
        !m.origDstPort &&
        !m.replSrcPort &&
        !m.replDstPort &&
        !m.status &&
        !m.dir;
      return onlyState ? F.CTSTATE : F.CT;
    }
    case 'state':
      return F.CTSTATE;
    case 'addrtype':
      return F.SRC | F.DST | (m.limitIfaceIn ? F.IIF : 0) | (m.limitIfaceOut ? F.OIF : 0);
    case 'physdev':
      return F.PHYSDEV;
    case 'set': {
      // Element i of a set is, by the set's type (IPSET_DIMENSIONS): position 0 an address or (bitmap:port)
      // a port, 1 a port, 2 an address; each from the side its flag names.
      let mask = 0;
      m.dirs.forEach((d, i) => {
        const addr = d === 'src' ? F.SRC : F.DST;
        const port = d === 'src' ? F.SPORT : F.DPORT;
        mask |= i === 0 ? addr | port : i === 1 ? port : addr;
      });
      return mask;
    }
    case 'ipvs':
      return F.IPVS;
    case 'statistic':
    case 'recent':
    case 'nfacct':
      return IMPURE;
    default: {
      const never: never = m;
      return never;
    }
  }
}

function sameIp(a: IP | undefined, b: IP | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.text === b.text);
}

/** The fields a target reads (MARK), or IMPURE (side effects, Rng draws). */
function targetMask(t: Target | undefined): number {
  if (!t) return 0;
  switch (t.kind) {
    case 'LOG':
    case 'CONNMARK':
      return IMPURE;
    case 'MARK':
      return F.MARK;
    case 'DNAT':
    case 'SNAT': {
      const r = t.range;
      const ipDraw = r.minIp !== undefined && !sameIp(r.minIp, r.maxIp);
      const portDraw = r.minPort !== undefined && (r.maxPort ?? r.minPort) > r.minPort;
      return ipDraw || portDraw ? IMPURE : 0;
    }
    case 'MASQUERADE':
    case 'REDIRECT':
      return t.minPort !== undefined && (t.maxPort ?? t.minPort) > t.minPort ? IMPURE : 0;
    default:
      return 0;
  }
}

/** The fields a set match's lookup reads (by its flags: see matchMask). */
function setFields(m: SetMatch): number {
  return matchMask(m);
}

/** A built-in chain's shape: the fields its rules read, and the set lookups that stand for fields. */
interface ChainShape {
  /** The fields of the shape (a bit per F), or IMPURE. */
  readonly mask: number;
  /**
   * Set matches whose answer (is the packet's element in the set?) is part of the shape instead of
   * the fields the lookup reads, one per distinct (set, flags). A set match on the reply's
   * destination port makes every connection a new value of that port, but the same answer.
   */
  readonly probes: readonly SetMatch[];
}

/**
 * The shape of a built-in chain: the union of the fields every rule reachable from it reads, or
 * IMPURE. A set match adds its lookup's answer rather than the fields the lookup reads (OVS's staged
 * lookup: wildcard what only the set examined), unless other matches read all those fields anyway.
 */
function chainShape(table: Table, chain: string, sets: IpSetStore): ChainShape {
  let mask = 0;
  const bySet = new Map<string, SetMatch>();
  const seen = new Set<string>();
  const todo = [chain];
  while (todo.length) {
    const name = todo.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const c = table.chains.get(name);
    if (!c) continue;
    for (const r of c.rules) {
      for (const m of r.matches) {
        if (m.kind === 'set') {
          const key = `${m.name} ${m.dirs.join(',')}`;
          if (!bySet.has(key)) bySet.set(key, m);
          continue;
        }
        const x = matchMask(m);
        if (x === IMPURE) return { mask: IMPURE, probes: EMPTY };
        mask |= x;
      }
      const t = r.target;
      const x = targetMask(t);
      if (x === IMPURE) return { mask: IMPURE, probes: EMPTY };
      mask |= x;
      if (t && (t.kind === 'jump' || t.kind === 'goto')) todo.push(t.chain);
    }
  }
  const probes: SetMatch[] = [];
  // A plan lives for one generation of the sets (a change empties the cache), so the lookup in a set
  // that is empty or missing answers "no" for all of it: no probe.
  for (const m of bySet.values()) if ((setFields(m) & ~mask) !== 0 && !sets.isEmpty(m.name)) probes.push(m);
  return { mask, probes };
}

/** What a cached evaluation replays. */
interface Flow {
  readonly verdict: Verdict;
  readonly byPolicy: boolean;
  /** The mark the packet leaves with, or -1 when no reachable rule can change it (it leaves with its own). */
  readonly mark: number;
  readonly nat: NatRequest | undefined;
  readonly notrack: boolean;
  /** The rule counters (and the policy's) that the traversal adds one packet to, in order. */
  readonly counters: readonly Counters[];
  /** The flow shape: the masked fields' values (shapeOf). */
  readonly shape: readonly number[];
  /** The next flow whose shape has the same hash. */
  next: Flow | undefined;
}

/** One (table, chain) of one ruleset: its mask and the flows seen. */
interface Plan {
  readonly mask: number;
  /** Set lookups whose answers are part of the shape (ChainShape.probes). */
  readonly probes: readonly SetMatch[];
  /** Flows by the hash of their shape (chains of flows with equal hashes). */
  readonly flows: Map<number, Flow>;
  /**
   * The flow found or added last, compared before hashing: a connection's packets on one hook mostly
   * share a shape, one after another. Valid while the plan is (a stamp change makes new plans).
   */
  last: Flow | undefined;
  lookups: number;
  misses: number;
  /** Shapes did not repeat: evaluate every time until the cache starts afresh. */
  off: boolean;
}

/** Flows kept per (table, chain) before the map starts afresh (a cache, not a record). */
const MAX_FLOWS = 4096;

/** The megaflow cache of one network namespace (one per KernelNode). */
export class FlowCache {
  private rules: Ruleset | undefined;
  private setsGen = -1;
  private routeGen = -1;
  /** Plans by table and chain (planIndex). */
  private plans: (Plan | undefined)[] = [];
  /** Hits and misses since creation (for tests and benchmarks). */
  hits = 0;
  misses = 0;
  /** false: every evaluation goes to `evaluate` (benchmarks compare both in one process). */
  enabled = true;
  /** What a hit returns, overwritten by the next hit (every field present: one hidden class). */
  private readonly hit: MutableResult = {
    verdict: { kind: 'ACCEPT' },
    byPolicy: false,
    packet: undefined as unknown as Packet,
    nat: undefined,
    ctMark: undefined,
    notrack: false,
    trace: EMPTY,
    logs: EMPTY,
  };

  /** The ruleset `policies` describes. */
  private policyRules: Ruleset | undefined;
  /** By planIndex: what a chain without rules does (its policy), null for a chain with rules. */
  private policies: (PolicyOnly | null | undefined)[] = [];

  /**
   * policyVerdict(rs, table, chain, packet) with the lookups done once per ruleset: a built-in chain
   * without rules counts the packet on its policy and answers its verdict (ACCEPT, uncounted, when
   * the table or chain does not exist); undefined when the chain has rules.
   */
  policy(rs: Ruleset, table: TableName, chain: BuiltinChain, packet: Packet): Verdict | undefined {
    if (rs !== this.policyRules) {
      this.policyRules = rs;
      this.policies = [];
    }
    const i = planIndex(table, chain);
    let e = this.policies[i];
    if (e === undefined) {
      e = policyOnly(rs, table, chain);
      this.policies[i] = e;
    }
    if (e === null) return undefined;
    const c = e.counters;
    if (c) {
      c.packets++;
      c.bytes += packet.length;
    }
    return e.verdict;
  }

  /** The (table/chain) plans of the current ruleset with their masks and flow counts (for benchmarks). */
  describe(): { plan: string; mask: number; flows: number }[] {
    const out: { plan: string; mask: number; flows: number }[] = [];
    this.plans.forEach((p, i) => {
      if (!p) return;
      const table = Object.keys(TABLE_INDEX).find((t) => TABLE_INDEX[t as TableName] === i >> 3);
      const chain = Object.keys(CHAIN_INDEX).find((c) => CHAIN_INDEX[c as BuiltinChain] === (i & 7));
      let flows = 0;
      for (const head of p.flows.values()) for (let f: Flow | undefined = head; f; f = f.next) flows++;
      out.push({ plan: `${table}/${chain}`, mask: p.mask, flows });
    });
    return out;
  }

  /**
   * evaluate(rs, table, chain, packet, ctx) through the cache. `routeGen` is the generation of the
   * node's routing (the addrtype match's answers). A traced evaluation is never cached. A hit's
   * result is one object the cache reuses: read it before the next call (the walker does).
   */
  evaluate(
    rs: Ruleset,
    table: TableName,
    chain: BuiltinChain,
    packet: Packet,
    ctx: EvalContext,
    routeGen: number,
    /** The caller made `packet` and nothing else holds it: a hit's mark is written into it (packet.ts). */
    owned = false,
  ): EvalResult {
    if (ctx.trace === true) return evaluate(rs, table, chain, packet, ctx);
    const setsGen = ctx.state.sets.generation;
    if (rs !== this.rules || setsGen !== this.setsGen || routeGen !== this.routeGen) {
      this.rules = rs;
      this.setsGen = setsGen;
      this.routeGen = routeGen;
      this.plans = [];
    }
    const pi = planIndex(table, chain);
    let plan = this.plans[pi];
    if (!plan) {
      const t = rs.tables.get(table);
      const cs = t ? chainShape(t, chain, ctx.state.sets) : { mask: 0, probes: EMPTY };
      plan = {
        mask: cs.mask,
        probes: cs.probes,
        flows: new Map(),
        last: undefined,
        lookups: 0,
        misses: 0,
        off: false,
      };
      this.plans[pi] = plan;
    }
    if (plan.mask === IMPURE || plan.off || !this.enabled) return evaluate(rs, table, chain, packet, ctx);
    const n = shapeOf(plan, packet, ctx);
    plan.lookups++;
    const last = plan.last;
    if (last !== undefined && sameShape(last.shape, n)) {
      this.hits++;
      return replay(last, packet, this.hit, owned);
    }
    const h = hashShape(n);
    for (let f = plan.flows.get(h); f; f = f.next) {
      if (sameShape(f.shape, n)) {
        this.hits++;
        plan.last = f;
        return replay(f, packet, this.hit, owned);
      }
    }
    this.misses++;
    if (++plan.misses * 2 > plan.lookups && plan.lookups >= 256) {
      plan.off = true;
      plan.flows.clear();
      plan.last = undefined;
    }
    // The shape is copied before evaluating: a callback (addrType) could evaluate again and refill scratch.
    const shape = scratch.slice(0, n);
    const counted: Counters[] = [];
    const r = evaluate(rs, table, chain, packet, countingCtx(ctx, counted));
    if (plan.off) return r;
    if (plan.flows.size >= MAX_FLOWS) plan.flows.clear();
    const flow: Flow = {
      verdict: r.verdict,
      byPolicy: r.byPolicy,
      mark: plan.mask & F.MARK ? r.packet.mark : -1,
      nat: r.nat,
      notrack: r.notrack,
      counters: counted,
      shape,
      next: plan.flows.get(h),
    };
    plan.flows.set(h, flow);
    plan.last = flow;
    return r;
  }
}

interface PolicyOnly {
  readonly verdict: Verdict;
  /** The chain's policy counters; undefined when the table or chain does not exist. */
  readonly counters: Counters | undefined;
}

const POLICY_ACCEPT: Verdict = { kind: 'ACCEPT' };
const POLICY_DROP: Verdict = { kind: 'DROP' };

/** What policyVerdict answers for (table, chain) of `rs`: the policy of a chain without rules, or null. */
function policyOnly(rs: Ruleset, table: TableName, chain: BuiltinChain): PolicyOnly | null {
  const c = rs.tables.get(table)?.chains.get(chain);
  if (!c) return { verdict: POLICY_ACCEPT, counters: undefined };
  if (c.rules.length > 0) return null;
  return { verdict: (c.policy ?? 'ACCEPT') === 'ACCEPT' ? POLICY_ACCEPT : POLICY_DROP, counters: c.counters };
}

const TABLE_INDEX: Readonly<Record<TableName, number>> = { raw: 0, mangle: 1, nat: 2, filter: 3 };
const CHAIN_INDEX: Readonly<Record<BuiltinChain, number>> = {
  PREROUTING: 0,
  INPUT: 1,
  FORWARD: 2,
  OUTPUT: 3,
  POSTROUTING: 4,
};

/** TABLE_INDEX[table] * 8 + CHAIN_INDEX[chain], by comparisons (a keyed load per call showed in profiles). */
function planIndex(table: TableName, chain: BuiltinChain): number {
  const t = table === 'filter' ? 3 : table === 'nat' ? 2 : table === 'mangle' ? 1 : table === 'raw' ? 0 : 7;
  const c =
    chain === 'OUTPUT'
      ? 3
      : chain === 'INPUT'
        ? 1
        : chain === 'POSTROUTING'
          ? 4
          : chain === 'PREROUTING'
            ? 0
            : chain === 'FORWARD'
              ? 2
              : 7;
  return t * 8 + c;
}

/** ctx with `counted` set (the caller's own ctx is left as it is). */
function countingCtx(ctx: EvalContext, counted: Counters[]): EvalContext {
  const c: { -readonly [K in keyof EvalContext]: EvalContext[K] } = {
    now: ctx.now,
    rng: ctx.rng,
    state: ctx.state,
    counted,
  };
  if (ctx.ct) c.ct = ctx.ct;
  if (ctx.addrType) c.addrType = ctx.addrType;
  if (ctx.ipvs) c.ipvs = ctx.ipvs;
  if (ctx.physdev) c.physdev = ctx.physdev;
  if (ctx.index !== undefined) c.index = ctx.index;
  return c;
}

type MutableResult = { -readonly [K in keyof EvalResult]: EvalResult[K] };

/**
 * A cached flow applied to a packet: its counters counted, the result evaluate would give, written
 * into `out` (the cache's one result object: a hit allocates nothing but a packet whose mark changes).
 */
function replay(f: Flow, packet: Packet, out: MutableResult, owned: boolean): EvalResult {
  const cs = f.counters;
  const len = packet.length;
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    c.packets++;
    c.bytes += len;
  }
  out.verdict = f.verdict;
  out.byPolicy = f.byPolicy;
  out.packet = f.mark >= 0 && f.mark !== packet.mark ? withMark(packet, f.mark, owned) : packet;
  out.nat = f.nat;
  out.notrack = f.notrack;
  return out;
}

/**
 * Strings in a shape (device names, conntrack states, IPVS methods: a few dozen) as small numbers,
 * shared by every cache and never reassigned.
 */
const interned = new Map<string, number>();
function intern(x: string | undefined): number {
  if (x === undefined) return -1;
  let v = interned.get(x);
  if (v === undefined) {
    v = interned.size;
    interned.set(x, v);
  }
  return v;
}

/** An address into v[n..]: IPv4 its value, IPv6 its four 32-bit words after a -2; returns the next n. */
function pushIp(v: number[], n: number, ip: IP | undefined): number {
  if (ip === undefined) v[n++] = -1;
  else if (ip.family === 4) v[n++] = ip.n;
  else {
    const b = ip.big;
    v[n++] = -2;
    v[n++] = Number(b & 0xffffffffn);
    v[n++] = Number((b >> 32n) & 0xffffffffn);
    v[n++] = Number((b >> 64n) & 0xffffffffn);
    v[n++] = Number(b >> 96n);
  }
  return n;
}

const PROTO_CODE: Readonly<Record<Packet['proto'], number>> = {
  tcp: 6,
  udp: 17,
  sctp: 132,
  icmp: 1,
  icmpv6: 58,
};

/** A conntrack tuple into v[n..] (its protocol, addresses and ports; -1 when absent); returns the next n. */
function pushTuple(v: number[], n: number, t: CtTuple | undefined): number {
  if (!t) {
    v[n++] = -1;
    return n;
  }
  v[n++] = PROTO_CODE[t.proto];
  n = pushIp(v, n, t.src);
  n = pushIp(v, n, t.dst);
  v[n++] = t.sport;
  v[n++] = t.dport;
  return n;
}

/** The shape being looked up: shapeOf fills it, a new flow keeps a copy. */
const scratch: number[] = [];

/**
 * The values of the masked fields (the family and protocol always) into `scratch`; returns how many.
 * The order and number of values is fixed by the mask, so equal shapes of one plan are equal arrays.
 */
function shapeOf(plan: Plan, p: Packet, ctx: EvalContext): number {
  const mask = plan.mask;
  const v = scratch;
  let n = 0;
  v[n++] = p.family * 256 + PROTO_CODE[p.proto];
  if (mask & F.SRC) n = pushIp(v, n, p.src);
  if (mask & F.DST) n = pushIp(v, n, p.dst);
  if (mask & F.IIF) v[n++] = intern(p.iif);
  if (mask & F.OIF) v[n++] = intern(p.oif);
  if (mask & F.SPORT) v[n++] = p.sport;
  if (mask & F.DPORT) v[n++] = p.dport;
  if (mask & F.TCPFLAGS) v[n++] = tcpFlagBits(p);
  if (mask & F.ICMP) v[n++] = p.icmp ? p.icmp.type * 256 + p.icmp.code : -1;
  if (mask & F.MARK) v[n++] = p.mark;
  if (mask & (F.CTSTATE | F.CT | F.CTMARK)) {
    const ct = ctx.ct;
    if (!ct) v[n++] = -1;
    else {
      v[n++] = intern(ct.state);
      const st = ct.status ?? 0;
      if (mask & F.CT) {
        v[n++] = st;
        v[n++] = ct.dir === 'REPLY' ? 1 : 0;
        n = pushTuple(v, n, ct.orig);
        n = pushTuple(v, n, ct.reply);
      } else v[n++] = st & (CtStatus.SRC_NAT | CtStatus.DST_NAT);
      if (mask & F.CTMARK) v[n++] = ct.mark ?? 0;
    }
  }
  if (mask & F.PHYSDEV) {
    const ph = ctx.physdev;
    if (!ph) v[n++] = -1;
    else {
      v[n++] = intern(ph.in);
      v[n++] = intern(ph.out);
    }
  }
  if (mask & F.IPVS) {
    const x = ctx.ipvs;
    if (!x) v[n++] = -1;
    else {
      n = pushIp(v, n, x.vaddr);
      v[n++] = x.vport;
      v[n++] = x.vproto;
      v[n++] = x.original ? 1 : 0;
      v[n++] = intern(x.method);
      v[n++] = x.vportctl ?? 0;
    }
  }
  const probes = plan.probes;
  if (probes.length) {
    const sets = ctx.state.sets;
    for (let i = 0; i < probes.length; i++) v[n++] = setHolds(probes[i]!, p, sets) ? 1 : 0;
  }
  return n;
}

function hashShape(n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    const x = scratch[i]!;
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h = Math.imul(h ^ ((x / 4294967296) | 0), 0x85ebca6b);
  }
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

function sameShape(a: readonly number[], n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== scratch[i]) return false;
  return true;
}
