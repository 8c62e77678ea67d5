/**
 * iptables-restore input: parsing into a script of table blocks, and applying a script to a Ruleset
 * with iptables-restore's semantics.
 *
 * - Without --noflush every table named in the input is flushed first: its user chains are deleted,
 *   its built-in chains emptied and their policies reset to ACCEPT. Other tables are untouched.
 * - With --noflush, `:CHAIN` flushes (or creates) a user chain; for a built-in chain it only sets the
 *   policy. Chains not declared keep their rules.
 * - Counters in `:CHAIN POLICY [p:b]`, `[p:b] -A ...` and `-c p b` are applied only with `counters`.
 * - A jump to a chain that does not exist (yet) is an error on that line. At COMMIT the table is
 *   checked for loops reachable from a built-in chain, which the kernel refuses (ELOOP with the legacy
 *   backend, "Too many links" with nf_tables); loops among unreachable user chains load, as in Linux.
 * - A failing block leaves the Ruleset unchanged (the caller keeps the old value).
 */
import type { Family } from '../addr.js';
import type { ParsedRule } from './parse-rule.js';
import { parseRuleArgs, rulesError } from './parse-rule.js';
import { rulesEqual } from './rule-equal.js';
import type { Chain, Counters, Policy, Rule, Ruleset, Table, TableName } from './ruleset.js';
import { BUILTIN_CHAINS, emptyRuleset, emptyTable, isBuiltin, isTableName, zeroCounters } from './ruleset.js';
import { tokenizeLine } from './tokenize.js';

export type RestoreOp =
  | {
      readonly op: 'declare';
      readonly line: number;
      readonly chain: string;
      readonly policy?: Policy;
      readonly counters?: Counters;
    }
  | {
      readonly op: 'append';
      readonly line: number;
      readonly chain: string;
      readonly rule: Rule;
      readonly counters?: Counters;
    }
  | {
      readonly op: 'insert';
      readonly line: number;
      readonly chain: string;
      readonly index: number;
      readonly rule: Rule;
      readonly counters?: Counters;
    }
  | {
      readonly op: 'delete';
      readonly line: number;
      readonly chain: string;
      readonly index?: number;
      readonly rule?: Rule;
    }
  | { readonly op: 'new-chain'; readonly line: number; readonly chain: string }
  | { readonly op: 'delete-chain'; readonly line: number; readonly chain?: string }
  | { readonly op: 'flush'; readonly line: number; readonly chain?: string }
  | { readonly op: 'policy'; readonly line: number; readonly chain: string; readonly policy: Policy };

export interface TableBlock {
  readonly table: TableName;
  readonly line: number;
  readonly ops: readonly RestoreOp[];
}

export interface RestoreScript {
  readonly family: Family;
  readonly blocks: readonly TableBlock[];
}

const CHAIN_NAME = /^[^\s!-][^\s]{0,28}$/;

function parseCounters(s: string, line: number): Counters {
  const m = /^\[(\d+):(\d+)\]$/.exec(s);
  if (!m) throw rulesError(line, `bad counters "${s}" (expected [packets:bytes], e.g. [0:0])`);
  return { packets: Number(m[1]), bytes: Number(m[2]) };
}

/** Parses iptables-restore (or iptables-save) text. */
export function parseRestore(text: string, opts: { family?: Family } = {}): RestoreScript {
  const family = opts.family ?? 4;
  const blocks: TableBlock[] = [];
  let cur: { table: TableName; line: number; ops: RestoreOp[] } | undefined;
  const lines = text.split('\n');
  for (let idx = 0; idx < lines.length; idx++) {
    const lineNo = idx + 1;
    const raw = lines[idx]!.replace(/\r$/, '');
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      if (cur)
        throw rulesError(
          lineNo,
          `table "${line.slice(1)}" starts before COMMIT of table ${cur.table}; add COMMIT`,
        );
      const name = line.slice(1).trim();
      if (!isTableName(name)) {
        throw rulesError(lineNo, `unknown table "${name}" (kpath models raw, mangle, nat and filter)`);
      }
      cur = { table: name, line: lineNo, ops: [] };
      continue;
    }
    if (!cur)
      throw rulesError(
        lineNo,
        `"${line}" is outside a table; start the block with *filter, *nat, *mangle or *raw`,
      );
    if (line === 'COMMIT') {
      blocks.push(cur);
      cur = undefined;
      continue;
    }
    const table = cur.table;
    if (line.startsWith(':')) {
      const parts = line.slice(1).split(/\s+/);
      const chain = parts[0] ?? '';
      if (!CHAIN_NAME.test(chain))
        throw rulesError(lineNo, `invalid chain name "${chain}" (1-29 characters, no spaces)`);
      const pol = parts[1];
      if (pol === undefined)
        throw rulesError(
          lineNo,
          `":${chain}" needs a policy (ACCEPT or DROP for built-in chains, - for user chains)`,
        );
      const builtin = isBuiltin(table, chain);
      if (builtin && pol !== 'ACCEPT' && pol !== 'DROP') {
        throw rulesError(lineNo, `built-in chain ${chain} needs policy ACCEPT or DROP, not "${pol}"`);
      }
      if (!builtin && pol !== '-') {
        throw rulesError(
          lineNo,
          `"${chain}" is not a built-in chain of ${table}; user chains take "-" as policy`,
        );
      }
      const counters = parts[2] !== undefined ? parseCounters(parts[2], lineNo) : undefined;
      cur.ops.push({
        op: 'declare',
        line: lineNo,
        chain,
        ...(builtin ? { policy: pol as Policy } : {}),
        ...(counters ? { counters } : {}),
      });
      continue;
    }
    const tokens = tokenizeLine(line);
    if (!Array.isArray(tokens)) throw rulesError(lineNo, tokens.error);
    let prefixCounters: Counters | undefined;
    let args = tokens;
    if (args[0]?.startsWith('[')) {
      prefixCounters = parseCounters(args[0], lineNo);
      args = args.slice(1);
    } else if (args[0] === '-c' || args[0] === '--set-counters') {
      prefixCounters = parseCounters(`[${args[1] ?? ''}:${args[2] ?? ''}]`, lineNo);
      args = args.slice(3);
    }
    cur.ops.push(parseCommand(args, { family, table, line: lineNo }, prefixCounters));
  }
  if (cur)
    throw rulesError(lines.length, `COMMIT expected for table ${cur.table} (started at line ${cur.line})`);
  return { family, blocks };
}

function parseCommand(
  args: readonly string[],
  ctx: { family: Family; table: TableName; line: number },
  prefixCounters: Counters | undefined,
): RestoreOp {
  const line = ctx.line;
  const cmd = args[0];
  const chain = args[1];
  const needChain = () => {
    if (chain === undefined) throw rulesError(line, `${cmd} needs a chain name`);
    return chain;
  };
  const rule = (rest: readonly string[]): ParsedRule =>
    parseRuleArgs(rest, { family: ctx.family, table: ctx.table, chain: needChain(), line });
  switch (cmd) {
    case '-A':
    case '--append': {
      const p = rule(args.slice(2));
      const counters = prefixCounters ?? p.counters;
      return { op: 'append', line, chain: needChain(), rule: p.rule, ...(counters ? { counters } : {}) };
    }
    case '-I':
    case '--insert': {
      let rest = args.slice(2);
      let index = 1;
      if (rest[0] !== undefined && /^\d+$/.test(rest[0])) {
        index = Number(rest[0]);
        if (index < 1) throw rulesError(line, 'rule numbers start at 1');
        rest = rest.slice(1);
      }
      const p = rule(rest);
      const counters = prefixCounters ?? p.counters;
      return {
        op: 'insert',
        line,
        chain: needChain(),
        index,
        rule: p.rule,
        ...(counters ? { counters } : {}),
      };
    }
    case '-D':
    case '--delete': {
      const rest = args.slice(2);
      if (rest.length === 1 && /^\d+$/.test(rest[0]!))
        return { op: 'delete', line, chain: needChain(), index: Number(rest[0]) };
      return { op: 'delete', line, chain: needChain(), rule: rule(rest).rule };
    }
    case '-N':
    case '--new-chain':
      if (!CHAIN_NAME.test(needChain())) throw rulesError(line, `invalid chain name "${chain}"`);
      return { op: 'new-chain', line, chain: needChain() };
    case '-X':
    case '--delete-chain':
      return chain === undefined ? { op: 'delete-chain', line } : { op: 'delete-chain', line, chain };
    case '-F':
    case '--flush':
      return chain === undefined ? { op: 'flush', line } : { op: 'flush', line, chain };
    case '-P':
    case '--policy': {
      const pol = args[2];
      if (pol !== 'ACCEPT' && pol !== 'DROP')
        throw rulesError(line, `-P ${chain ?? ''} needs ACCEPT or DROP`);
      return { op: 'policy', line, chain: needChain(), policy: pol };
    }
    default:
      throw rulesError(
        line,
        `unknown command "${cmd ?? ''}" (kpath's iptables-restore understands -A, -I, -D, -N, -X, -F, -P, :CHAIN lines and COMMIT)`,
      );
  }
}

export interface ApplyOptions {
  /** iptables-restore --noflush. */
  readonly noflush?: boolean;
  /** iptables-restore --counters. */
  readonly counters?: boolean;
}

interface WorkChain {
  name: string;
  policy?: Policy;
  counters: Counters;
  rules: Rule[];
}

function withCounters(r: Rule, c: Counters | undefined, use: boolean): Rule {
  const counters = use && c ? { ...c } : zeroCounters();
  return r.target ? { matches: r.matches, target: r.target, counters } : { matches: r.matches, counters };
}

function referencedBy(chains: Map<string, WorkChain>, name: string): string | undefined {
  for (const c of chains.values()) {
    for (const r of c.rules) {
      if (
        (r.target?.kind === 'jump' || r.target?.kind === 'goto') &&
        r.target.chain === name &&
        c.name !== name
      )
        return c.name;
    }
  }
  return undefined;
}

function applyBlock(base: Table | undefined, block: TableBlock, opts: ApplyOptions): Table {
  const start = opts.noflush && base ? base : emptyTable(block.table);
  const chains = new Map<string, WorkChain>();
  for (const c of start.chains.values()) {
    chains.set(c.name, {
      name: c.name,
      ...(c.policy ? { policy: c.policy } : {}),
      counters: c.counters,
      rules: [...c.rules],
    });
  }
  const get = (name: string, line: number): WorkChain => {
    const c = chains.get(name);
    if (!c)
      throw rulesError(
        line,
        `chain '${name}' does not exist in table ${block.table}; declare it with :${name} - [0:0] first`,
      );
    return c;
  };
  const checkJump = (r: Rule, line: number) => {
    const t = r.target;
    if ((t?.kind === 'jump' || t?.kind === 'goto') && !chains.has(t.chain)) {
      throw rulesError(
        line,
        `Chain '${t.chain}' does not exist; declare it with :${t.chain} - [0:0] before this rule`,
      );
    }
    if ((t?.kind === 'jump' || t?.kind === 'goto') && isBuiltin(block.table, t.chain)) {
      throw rulesError(line, `cannot jump to built-in chain ${t.chain}`);
    }
  };
  for (const op of block.ops) {
    switch (op.op) {
      case 'declare': {
        const c = chains.get(op.chain);
        if (op.policy) {
          const b = get(op.chain, op.line);
          b.policy = op.policy;
          if (opts.counters && op.counters) b.counters = { ...op.counters };
        } else if (c) {
          c.rules = [];
        } else {
          chains.set(op.chain, { name: op.chain, counters: zeroCounters(), rules: [] });
        }
        break;
      }
      case 'new-chain':
        if (chains.has(op.chain)) throw rulesError(op.line, `chain ${op.chain} already exists`);
        chains.set(op.chain, { name: op.chain, counters: zeroCounters(), rules: [] });
        break;
      case 'append':
        checkJump(op.rule, op.line);
        get(op.chain, op.line).rules.push(withCounters(op.rule, op.counters, !!opts.counters));
        break;
      case 'insert': {
        checkJump(op.rule, op.line);
        const c = get(op.chain, op.line);
        if (op.index > c.rules.length + 1) {
          throw rulesError(
            op.line,
            `index of insertion too big: chain ${op.chain} has ${c.rules.length} rules`,
          );
        }
        c.rules.splice(op.index - 1, 0, withCounters(op.rule, op.counters, !!opts.counters));
        break;
      }
      case 'delete': {
        const c = get(op.chain, op.line);
        let i = -1;
        if (op.index !== undefined) i = op.index - 1 < c.rules.length ? op.index - 1 : -1;
        else if (op.rule) i = c.rules.findIndex((r) => rulesEqual(r, op.rule!));
        if (i < 0) {
          throw rulesError(
            op.line,
            op.index !== undefined
              ? `index of deletion too big: chain ${op.chain} has ${c.rules.length} rules`
              : `bad rule (does a matching rule exist in chain ${op.chain}?)`,
          );
        }
        c.rules.splice(i, 1);
        break;
      }
      case 'flush':
        if (op.chain === undefined) for (const c of chains.values()) c.rules = [];
        else get(op.chain, op.line).rules = [];
        break;
      case 'delete-chain': {
        const names =
          op.chain === undefined ? [...chains.keys()].filter((n) => !isBuiltin(block.table, n)) : [op.chain];
        for (const n of names) {
          const c = get(n, op.line);
          if (c.policy) throw rulesError(op.line, `cannot delete built-in chain ${n}`);
          if (op.chain !== undefined && c.rules.length > 0) {
            throw rulesError(op.line, `chain ${n} is not empty; flush it first (:${n} - [0:0] or -F ${n})`);
          }
        }
        for (const n of names) {
          const by = referencedBy(chains, n);
          if (by && !names.includes(by))
            throw rulesError(op.line, `chain ${n} is still referenced from ${by}; remove that rule first`);
        }
        for (const n of names) chains.delete(n);
        break;
      }
      case 'policy': {
        const c = get(op.chain, op.line);
        if (!c.policy)
          throw rulesError(op.line, `-P works only on built-in chains; ${op.chain} is a user chain`);
        c.policy = op.policy;
        break;
      }
      default: {
        const never: never = op;
        throw never;
      }
    }
  }
  const out = new Map<string, Chain>();
  for (const c of chains.values()) {
    out.set(c.name, {
      name: c.name,
      ...(c.policy ? { policy: c.policy } : {}),
      counters: c.counters,
      rules: c.rules,
    });
  }
  const table: Table = { name: block.table, chains: out };
  const loop = findLoop(table);
  if (loop) {
    throw rulesError(
      block.line,
      `table ${block.table}: the jumps ${loop.join(' -> ')} form a loop reachable from a built-in chain; the kernel refuses it (ELOOP, "Too many levels of symbolic links"; nf_tables says "Too many links")`,
    );
  }
  return table;
}

/** A jump cycle reachable from a built-in chain, as the chain names around it, or undefined. */
export function findLoop(table: Table): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    const s = state.get(name);
    if (s === 2) return undefined;
    if (s === 1) return [...path.slice(path.indexOf(name)), name];
    state.set(name, 1);
    path.push(name);
    const c = table.chains.get(name);
    for (const r of c?.rules ?? []) {
      const t = r.target;
      if (t?.kind === 'jump' || t?.kind === 'goto') {
        const found = visit(t.chain);
        if (found) return found;
      }
    }
    path.pop();
    state.set(name, 2);
    return undefined;
  };
  for (const b of BUILTIN_CHAINS[table.name]) {
    if (!table.chains.has(b)) continue;
    const found = visit(b);
    if (found) return found;
  }
  return undefined;
}

/** Applies a parsed script; returns a new Ruleset (the input is not changed). */
export function applyRestore(rs: Ruleset, script: RestoreScript, opts: ApplyOptions = {}): Ruleset {
  if (script.family !== rs.family) {
    throw rulesError(
      0,
      `rules parsed for IPv${script.family} cannot be loaded into an IPv${rs.family} ruleset`,
    );
  }
  const tables = new Map(rs.tables);
  for (const block of script.blocks)
    tables.set(block.table, applyBlock(tables.get(block.table), block, opts));
  return { family: rs.family, tables };
}

/** parseRestore + applyRestore. */
export function loadRestore(rs: Ruleset, text: string, opts: ApplyOptions = {}): Ruleset {
  return applyRestore(rs, parseRestore(text, { family: rs.family }), opts);
}

/** A Ruleset from iptables-save output (counters kept). */
export function parseSave(text: string, opts: { family?: Family } = {}): Ruleset {
  const family = opts.family ?? 4;
  return applyRestore(emptyRuleset(family), parseRestore(text, { family }), { counters: true });
}
