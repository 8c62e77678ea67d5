/**
 * Tables, chains and rules. The structure is immutable (loading rules builds a new Ruleset); only the
 * packet/byte counters are mutable, as in the kernel.
 */
import type { Family } from '../addr.js';
import type { Match } from './match.js';
import type { Target } from './target.js';

export type TableName = 'raw' | 'mangle' | 'nat' | 'filter';
export const TABLE_NAMES: readonly TableName[] = ['raw', 'mangle', 'nat', 'filter'];

export type BuiltinChain = 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';

/** Built-in chains of each table, in the order iptables-save prints them. */
export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly BuiltinChain[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export type Policy = 'ACCEPT' | 'DROP';

export interface Counters {
  packets: number;
  bytes: number;
}

export interface Rule {
  /** Header matches first (src, dst, iif, oif, proto), then extension matches in rule order. */
  readonly matches: readonly Match[];
  /** undefined: a rule without -j (it only counts). */
  readonly target?: Target;
  readonly counters: Counters;
}

export interface Chain {
  readonly name: string;
  /** Set for built-in chains only. */
  readonly policy?: Policy;
  readonly counters: Counters;
  readonly rules: readonly Rule[];
}

export interface Table {
  readonly name: TableName;
  /** Built-in chains first, then user chains in the order they were created. */
  readonly chains: ReadonlyMap<string, Chain>;
}

export interface Ruleset {
  readonly family: Family;
  /** Tables in the order they were first loaded. */
  readonly tables: ReadonlyMap<TableName, Table>;
}

export function isTableName(s: string): s is TableName {
  return (TABLE_NAMES as readonly string[]).includes(s);
}

export function isBuiltin(table: TableName, chain: string): chain is BuiltinChain {
  return (BUILTIN_CHAINS[table] as readonly string[]).includes(chain);
}

export function zeroCounters(): Counters {
  return { packets: 0, bytes: 0 };
}

/** A table with its built-in chains, empty, policy ACCEPT. */
export function emptyTable(name: TableName): Table {
  const chains = new Map<string, Chain>();
  for (const c of BUILTIN_CHAINS[name])
    chains.set(c, { name: c, policy: 'ACCEPT', counters: zeroCounters(), rules: [] });
  return { name, chains };
}

export function emptyRuleset(family: Family = 4): Ruleset {
  return { family, tables: new Map() };
}

export function rule(matches: readonly Match[], target?: Target, counters: Counters = zeroCounters()): Rule {
  return target ? { matches, target, counters } : { matches, counters };
}
