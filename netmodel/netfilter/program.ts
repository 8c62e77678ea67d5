/**
 * The flat form of a compiled table, run by the fast evaluator (evaluate.ts, `runFast`).
 *
 * Every rule of the table becomes one record in a single Int32Array (`code`): a header (REC: global
 * rule number g, target code and operands, chain id, index run) followed by its matches as ops
 * (OP_STRIDE int32 each: [op, a, b, c]). The rules of a chain are contiguous and the chain ends in an
 * END record, so walking a chain reads a few consecutive cache lines instead of a graph of per-rule
 * objects. By g: the Rule's own counters object (updated in place, as before), the Rule, and a
 * NatRequest precomputed when the target draws nothing from the Rng.
 *
 * Ops keep the rule's match order, and each op is exactly one part of one match, so evaluation order,
 * short-circuiting and side effects (statistic's Rng draw, recent, nfacct, nth) are those of the
 * matches themselves. Anything without a dedicated op is OP_GENERIC: the Match object, evaluated by
 * the same `matchOne` the reference evaluator uses.
 *
 * The dispatch index of a run is an open-addressing hash table over (dst uint32, proto << 16 | dport)
 * held in Int32Arrays: no strings, no boxed keys, no allocation per lookup.
 */
import type { NatRequest } from './context.js';
import type { Match } from './match.js';
import { IPPROTO } from './match.js';
import type { Counters, Rule, Table } from './ruleset.js';
import type { Target } from './target.js';
import { natRequest } from './target.js';

/**
 * Match ops. evaluate.ts switches on the literal values (so the switch compiles to a jump table); keep
 * the two in step. The randomized equivalence test (test/netfilter/index.test.ts) covers every op.
 *
 *   1 SRC4    a = mask, b = net, c = neg      (v4 src & mask) === net, !== neg
 *   2 DST4    a = mask, b = net, c = neg
 *   3 PROTO   a = proto, c = neg
 *   4 L4      a = proto                       the tcp/udp/sctp match's implicit protocol check
 *   5 SPORT   a = lo, b = hi, c = neg
 *   6 DPORT   a = lo, b = hi, c = neg
 *   7 MARK    a = mask, b = value, c = neg    (nfmark & mask) === value, !== neg
 *   8 RANDOM  a = probability31, c = neg      statistic --mode random: one Rng draw
 *   9 GENERIC a = index into `matches`
 */
export const OP = {
  SRC4: 1,
  DST4: 2,
  PROTO: 3,
  L4: 4,
  SPORT: 5,
  DPORT: 6,
  MARK: 7,
  RANDOM: 8,
  GENERIC: 9,
} as const;
export const OP_STRIDE = 4;

/**
 * Target codes (same convention as OP):
 *   0 NONE (count only)  1 ACCEPT  2 DROP  3 RETURN  4 JUMP (A = target chain's offset)  5 GOTO (A)
 *   6 MARK (A = value, B = mask)  7 NAT with a fixed result (nat[g])  8 OTHER (the Target object)
 *   9 END (the chain's end: policy or implicit RETURN)
 */
export const TC = {
  NONE: 0,
  ACCEPT: 1,
  DROP: 2,
  RETURN: 3,
  JUMP: 4,
  GOTO: 5,
  MARK: 6,
  NAT: 7,
  OTHER: 8,
  END: 9,
} as const;

/** Rule record layout in `code` (int32 offsets from the record start). */
export const REC = {
  /** Global rule number g (counters, rules, nat, generic operands are indexed by it); -1 for END. */
  G: 0,
  /** Number of ops that follow the header. */
  NOPS: 1,
  TCODE: 2,
  /** JUMP/GOTO: code offset of the target chain's first record; MARK: value. */
  A: 3,
  /** MARK: mask. */
  B: 4,
  CHAIN: 5,
  /** Index into `runs`, or -1. */
  RUN: 6,
  /** 1-based rule number in its chain (iptables -L --line-numbers). */
  NUM: 7,
  /** Code offset of the next record of the same chain (the END record's is unused). */
  NEXT: 8,
} as const;
export const REC_HEADER = 9;

export interface FlatRun {
  /** Code offset of the first record after the run. */
  readonly end: number;
  /** Slots - 1 (slots is a power of two). */
  readonly mask: number;
  /**
   * SLOT_STRIDE int32 per slot: proto << 16 | dport (0 = empty slot), dst as int32, the count, then
   * the one record's offset and rule number (count 1) or an offset into `pos` of (number, offset)
   * pairs in rule order.
   */
  readonly slots: Int32Array;
  readonly pos: Int32Array;
}
export const SLOT_STRIDE = 5;

export interface Program {
  readonly table: Table;
  /**
   * The rules of every chain as records (REC) linked in rule order by NEXT, each chain closed by an
   * END record (TC.END: fall-through). A chain that exactly one rule jumps to is laid out right after
   * that rule's record (kube-proxy's KUBE-SVC-* after its KUBE-SERVICES rule, KUBE-SEP-* after its
   * KUBE-SVC-* rule), so the records one service's packets walk are contiguous. A position during
   * evaluation is a record offset.
   */
  readonly code: Int32Array;
  /** Chain id -> name, first record offset, policy, counters. Ids follow table order. */
  readonly chainName: readonly string[];
  readonly chainStart: Int32Array;
  readonly chainCounters: readonly Counters[];
  readonly chainPolicy: readonly ('ACCEPT' | 'DROP' | undefined)[];
  /**
   * Per chain id: 1 when the chain has no rules (its first record is END), so a built-in one is just
   * its policy. kube-proxy leaves every mangle chain and most raw ones like that.
   */
  readonly policyOnly: Uint8Array;
  readonly chainId: ReadonlyMap<string, number>;
  /** Per rule g. */
  readonly nat: readonly (NatRequest | undefined)[];
  readonly counters: readonly Counters[];
  readonly rules: readonly Rule[];
  readonly runs: readonly FlatRun[];
  /** Operands of OP_GENERIC. */
  readonly matches: readonly Match[];
}

/** The hash both the builder and the evaluator use for (dst, key). */
export function runHash(dst: number, key: number): number {
  let h = Math.imul(dst ^ Math.imul(key, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 15;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 13);
}

function assertNever(what: string): never {
  throw new Error(`kpath internal error: ${what}`);
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffff;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** The ops for one match: [op, a, b, c] groups (none for a comment). GENERIC appends to `matches`. */
function opsOf(m: Match, matches: Match[]): number[] {
  const op = (code: number, a: number, b: number, c: number): number[] => [code, a | 0, b | 0, c | 0];
  const generic = (): number[] => {
    matches.push(m);
    return op(OP.GENERIC, matches.length - 1, 0, 0);
  };
  switch (m.kind) {
    case 'comment':
      return [];
    case 'src':
    case 'dst': {
      const ip = m.prefix.ip;
      const bits = m.prefix.bits;
      if (ip.family !== 4 || !isU32(ip.n) || !Number.isInteger(bits) || bits < 0 || bits > 32)
        return generic();
      return op(m.kind === 'src' ? OP.SRC4 : OP.DST4, maskOf(bits), ip.n, m.neg ? 1 : 0);
    }
    case 'proto':
      return op(OP.PROTO, m.proto, 0, m.neg ? 1 : 0);
    case 'tcp':
    case 'udp':
    case 'sctp': {
      if (m.kind === 'tcp' && m.flags) return generic();
      if ([m.sport, m.dport].some((p) => p && (!isPort(p.lo) || !isPort(p.hi)))) return generic();
      const want = m.kind === 'tcp' ? IPPROTO.TCP : m.kind === 'udp' ? IPPROTO.UDP : IPPROTO.SCTP;
      return [
        ...op(OP.L4, want, 0, 0),
        ...(m.sport ? op(OP.SPORT, m.sport.lo, m.sport.hi, m.sport.neg ? 1 : 0) : []),
        ...(m.dport ? op(OP.DPORT, m.dport.lo, m.dport.hi, m.dport.neg ? 1 : 0) : []),
      ];
    }
    case 'mark':
      if (!isU32(m.value) || !isU32(m.mask)) return generic();
      return op(OP.MARK, m.mask, m.value, m.neg ? 1 : 0);
    case 'statistic':
      // probability31 = 2^31 (probability 1) does not fit an int32 operand: generic.
      if (
        m.mode !== 'random' ||
        !Number.isInteger(m.probability31) ||
        m.probability31 < 0 ||
        m.probability31 > 0x7fffffff
      )
        return generic();
      return op(OP.RANDOM, m.probability31, 0, m.neg ? 1 : 0);
    default:
      return generic();
  }
}

/** The NatRequest a NAT target yields when choosing it draws nothing from the Rng; else undefined. */
function fixedNat(t: Target): NatRequest | undefined {
  const never = { uint32: (): number => assertNever('a fixed NAT target drew from the Rng') };
  switch (t.kind) {
    case 'DNAT':
    case 'SNAT': {
      const r = t.range;
      const ipFixed = !r.minIp || !r.maxIp || r.minIp.text === r.maxIp.text;
      const portFixed = r.minPort === undefined || !((r.maxPort ?? r.minPort) > r.minPort);
      return ipFixed && portFixed ? natRequest(t, never) : undefined;
    }
    case 'MASQUERADE':
    case 'REDIRECT':
      return t.minPort === undefined || !((t.maxPort ?? t.minPort) > t.minPort)
        ? natRequest(t, never)
        : undefined;
    default:
      return undefined;
  }
}

function buildRun(
  keys: readonly { at: number; num: number; dst: number; key: number }[],
  end: number,
): FlatRun {
  let n = 8;
  while (n < keys.length * 2) n *= 2;
  const mask = n - 1;
  const slots = new Int32Array(n * SLOT_STRIDE);
  const lists = new Map<number, { at: number; num: number }[]>(); // slot -> records in rule order
  for (const k of keys) {
    const dst = k.dst | 0;
    let s = runHash(dst, k.key) & mask;
    while (
      slots[s * SLOT_STRIDE] !== 0 &&
      !(slots[s * SLOT_STRIDE] === k.key && slots[s * SLOT_STRIDE + 1] === dst)
    )
      s = (s + 1) & mask;
    if (slots[s * SLOT_STRIDE] === 0) {
      slots[s * SLOT_STRIDE] = k.key;
      slots[s * SLOT_STRIDE + 1] = dst;
      lists.set(s, []);
    }
    lists.get(s)!.push({ at: k.at, num: k.num });
  }
  const pos: number[] = [];
  for (const [s, recs] of lists) {
    slots[s * SLOT_STRIDE + 2] = recs.length;
    if (recs.length === 1) {
      slots[s * SLOT_STRIDE + 3] = recs[0]!.at;
      slots[s * SLOT_STRIDE + 4] = recs[0]!.num;
    } else {
      slots[s * SLOT_STRIDE + 3] = pos.length;
      for (const r of recs) pos.push(r.num, r.at);
    }
  }
  return { end, mask, slots, pos: Int32Array.from(pos) };
}

/**
 * Lays out `table` flat. `runs(chainName)` gives the index runs of a chain as local [start, end) with
 * each rule's (dst, key), as compile.ts computed them.
 */
export function buildProgram(
  table: Table,
  runs: (
    chain: string,
  ) => readonly { start: number; end: number; keys: readonly { dst: number; key: number }[] }[],
): Program {
  const chainName: string[] = [];
  const chainCounters: Counters[] = [];
  const chainPolicy: ('ACCEPT' | 'DROP' | undefined)[] = [];
  const chainId = new Map<string, number>();
  for (const c of table.chains.values()) {
    chainId.set(c.name, chainName.length);
    chainName.push(c.name);
    chainCounters.push(c.counters);
    chainPolicy.push(c.policy);
  }
  const chainStart = new Int32Array(chainName.length);
  const code: number[] = [];
  const nat: (NatRequest | undefined)[] = [];
  const counters: Counters[] = [];
  const rules: Rule[] = [];
  const flatRuns: FlatRun[] = [];
  const matches: Match[] = [];
  /** Jump records whose A (target offset) is known only when the target chain is laid out. */
  const patches: { at: number; chain: number }[] = [];
  const chainList = [...table.chains.values()];
  // How many rules jump or go to each chain: a chain with exactly one is laid out after that rule.
  const refs = new Array<number>(chainList.length).fill(0);
  for (const c of chainList)
    for (const r of c.rules)
      if (r.target?.kind === 'jump' || r.target?.kind === 'goto') {
        const to = chainId.get(r.target.chain);
        if (to !== undefined) refs[to]!++;
      }
  const placed = new Array<boolean>(chainList.length).fill(false);
  const layChain = (id: number): void => {
    placed[id] = true;
    const c = chainList[id]!;
    chainStart[id] = code.length;
    const at: number[] = []; // record offset per local rule number
    let prevNext = -1; // where to store the offset of the next record of this chain
    c.rules.forEach((r, i) => {
      const g = rules.length;
      const rec = code.length;
      if (prevNext >= 0) code[prevNext] = rec;
      at.push(rec);
      const ops: number[] = [];
      for (const m of r.matches) ops.push(...opsOf(m, matches));
      let tcode: number = TC.NONE;
      let a = 0;
      let b = 0;
      let fixed: NatRequest | undefined;
      let inline: number | undefined;
      const t = r.target;
      if (t) {
        switch (t.kind) {
          case 'ACCEPT':
            tcode = TC.ACCEPT;
            break;
          case 'DROP':
            tcode = TC.DROP;
            break;
          case 'RETURN':
            tcode = TC.RETURN;
            break;
          case 'jump':
          case 'goto': {
            const to = chainId.get(t.chain);
            if (to === undefined)
              tcode = TC.OTHER; // cannot happen: the loader refuses it
            else {
              tcode = t.kind === 'jump' ? TC.JUMP : TC.GOTO;
              patches.push({ at: rec + REC.A, chain: to });
              if (refs[to] === 1 && !placed[to]) inline = to;
            }
            break;
          }
          case 'MARK':
            if (isU32(t.value) && isU32(t.mask)) {
              tcode = TC.MARK;
              a = t.value;
              b = t.mask;
            } else tcode = TC.OTHER;
            break;
          default:
            fixed = fixedNat(t);
            tcode = fixed ? TC.NAT : TC.OTHER;
        }
      }
      code.push(g, ops.length / OP_STRIDE, tcode, a | 0, b | 0, id, -1, i + 1, -1, ...ops);
      prevNext = rec + REC.NEXT;
      nat.push(fixed);
      counters.push(r.counters);
      rules.push(r);
      if (inline !== undefined) layChain(inline);
    });
    const end = code.length;
    if (prevNext >= 0) code[prevNext] = end;
    code.push(-1, 0, TC.END, 0, 0, id, -1, c.rules.length + 1, -1);
    for (const run of runs(c.name)) {
      const flat = buildRun(
        run.keys.map((k, i) => ({ at: at[run.start + i]!, num: run.start + i + 1, dst: k.dst, key: k.key })),
        run.end < at.length ? at[run.end]! : end,
      );
      for (let k = run.start; k < run.end; k++) code[at[k]! + REC.RUN] = flatRuns.length;
      flatRuns.push(flat);
    }
  };
  for (let id = 0; id < chainList.length; id++) if (!placed[id]) layChain(id);
  for (const p of patches) code[p.at] = chainStart[p.chain]!;
  return {
    table,
    code: Int32Array.from(code),
    chainName,
    chainStart,
    chainCounters,
    chainPolicy,
    policyOnly: Uint8Array.from(chainList, (c) => (c.rules.length === 0 ? 1 : 0)),
    chainId,
    nat,
    counters,
    rules,
    runs: flatRuns,
    matches,
  };
}
