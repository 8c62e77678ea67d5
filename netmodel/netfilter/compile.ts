/**
 * A table compiled for evaluation: jump targets resolved to chain objects, and the dispatch index.
 *
 * The index: inside a chain, a run of at least MIN_RUN consecutive rules whose matches are exactly an
 * IPv4 `-d a.b.c.d/32`, `-p tcp|udp|sctp`, the same protocol's `--dport N` and any comments (the
 * shape of kube-proxy's KUBE-SERVICES) is indexed by (dst, proto, dport) -> rule positions, ascending.
 * At a position inside such a run, evaluation jumps to the next position whose key equals the
 * packet's, or past the run. Rules skipped that way cannot match, and these matches have no side
 * effects, so first-match order and counters are exactly those of linear evaluation.
 */
import type { Match } from './match.js';
import { IPPROTO } from './match.js';
import type { Program } from './program.js';
import { buildProgram } from './program.js';
import type { Chain, Rule, Table } from './ruleset.js';
import type { Target } from './target.js';

export interface CRule {
  readonly rule: Rule;
  readonly matches: readonly Match[];
  readonly target: Target | undefined;
  /** For jump/goto: the chain. */
  jumpTo: CChain | undefined;
  /** Unused since evaluation runs the flat `program`; kept (always undefined) for type compatibility. */
  tests: ((env: never) => boolean)[] | undefined;
}

export interface IndexRun {
  readonly start: number;
  readonly end: number;
  /** dst (uint32) -> (proto << 16 | dport) -> ascending rule positions. */
  readonly map: Map<number, Map<number, number[]>>;
}

export interface CChain {
  readonly chain: Chain;
  readonly name: string;
  readonly builtin: boolean;
  readonly rules: readonly CRule[];
  /** Per rule position: the run it belongs to, or undefined. */
  readonly runAt: readonly (IndexRun | undefined)[];
}

export interface CompiledTable {
  readonly table: Table;
  readonly chains: ReadonlyMap<string, CChain>;
  /** The same table laid out flat for the fast evaluator (program.ts). */
  readonly program: Program;
}

export const MIN_RUN = 4;

function indexKey(r: Rule): { dst: number; key: number } | undefined {
  let dst: number | undefined;
  let proto: number | undefined;
  let dport: number | undefined;
  let l4 = 0;
  for (const m of r.matches) {
    switch (m.kind) {
      case 'comment':
        break;
      case 'dst':
        if (m.neg || m.prefix.ip.family !== 4 || m.prefix.bits !== 32) return undefined;
        dst = m.prefix.ip.n;
        break;
      case 'proto':
        if (m.neg || (m.proto !== IPPROTO.TCP && m.proto !== IPPROTO.UDP && m.proto !== IPPROTO.SCTP))
          return undefined;
        proto = m.proto;
        break;
      case 'tcp':
      case 'udp':
      case 'sctp': {
        l4++;
        if (m.sport || (m.kind === 'tcp' && m.flags) || !m.dport || m.dport.neg || m.dport.lo !== m.dport.hi)
          return undefined;
        const want = m.kind === 'tcp' ? IPPROTO.TCP : m.kind === 'udp' ? IPPROTO.UDP : IPPROTO.SCTP;
        if (proto !== undefined && proto !== want) return undefined;
        proto = want;
        dport = m.dport.lo;
        break;
      }
      default:
        return undefined;
    }
  }
  if (dst === undefined || proto === undefined || dport === undefined || l4 !== 1) return undefined;
  // The -p must agree with the port match (the parser guarantees it; builders might not).
  const p = r.matches.find((m) => m.kind === 'proto');
  if (!p || (p.kind === 'proto' && p.proto !== proto)) return undefined;
  return { dst, key: (proto << 16) | dport };
}

interface RunKeys {
  readonly start: number;
  readonly end: number;
  readonly keys: readonly { dst: number; key: number }[];
}

function buildRuns(rules: readonly Rule[], flat: RunKeys[]): (IndexRun | undefined)[] {
  const runAt: (IndexRun | undefined)[] = new Array(rules.length).fill(undefined);
  let i = 0;
  while (i < rules.length) {
    if (!indexKey(rules[i]!)) {
      i++;
      continue;
    }
    let j = i;
    while (j < rules.length && indexKey(rules[j]!)) j++;
    if (j - i >= MIN_RUN) {
      const map = new Map<number, Map<number, number[]>>();
      const keys: { dst: number; key: number }[] = [];
      for (let k = i; k < j; k++) {
        const { dst, key } = indexKey(rules[k]!)!;
        keys.push({ dst, key });
        let inner = map.get(dst);
        if (!inner) {
          inner = new Map();
          map.set(dst, inner);
        }
        const list = inner.get(key);
        if (list) list.push(k);
        else inner.set(key, [k]);
      }
      const run: IndexRun = { start: i, end: j, map };
      flat.push({ start: i, end: j, keys });
      for (let k = i; k < j; k++) runAt[k] = run;
    }
    i = j;
  }
  return runAt;
}

const cache = new WeakMap<Table, CompiledTable>();
/** The last table compiled or looked up: evaluation usually sees the same table many times in a row. */
let last: CompiledTable | undefined;

/**
 * Compiles (once per Table object; tables are immutable, loading rules builds new ones) for evaluation.
 */
export function compileTable(table: Table): CompiledTable {
  if (last?.table === table) return last;
  const hit = cache.get(table);
  if (hit) {
    last = hit;
    return hit;
  }
  const chains = new Map<string, CChain>();
  const runKeys = new Map<string, RunKeys[]>();
  for (const c of table.chains.values()) {
    const flat: RunKeys[] = [];
    runKeys.set(c.name, flat);
    chains.set(c.name, {
      chain: c,
      name: c.name,
      builtin: c.policy !== undefined,
      rules: c.rules.map((rule) => ({
        rule,
        matches: rule.matches,
        target: rule.target,
        jumpTo: undefined,
        tests: undefined,
      })),
      runAt: buildRuns(c.rules, flat),
    });
  }
  for (const c of chains.values()) {
    for (const r of c.rules) {
      const t = r.target;
      if (t && (t.kind === 'jump' || t.kind === 'goto')) r.jumpTo = chains.get(t.chain);
    }
  }
  const program = buildProgram(table, (name) => runKeys.get(name) ?? []);
  const out: CompiledTable = { table, chains, program };
  cache.set(table, out);
  last = out;
  return out;
}
