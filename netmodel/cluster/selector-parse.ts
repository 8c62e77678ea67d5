/**
 * Label selector text as `kubectl -l` takes it (k8s.io/apimachinery/pkg/labels.Parse), restated:
 * comma-separated requirements, all ANDed: `k=v`, `k==v`, `k!=v` (also matches objects without k),
 * `k in (a,b)`, `k notin (a,b)` (also matches objects without k), `k` (has k), `!k` (lacks k),
 * `k>n` and `k<n` (the label is an integer greater/less than n). An empty text matches everything.
 */
import { ErrorCodes, KpathError } from '../errors.js';
import type { Labels } from './selector.js';

export type SelectorOp = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface SelectorTerm {
  readonly key: string;
  readonly op: SelectorOp;
  readonly values: readonly string[];
}

function bad(text: string, why: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, `unable to parse requirement: ${why} (in selector "${text}")`);
}

/** Split on commas that are not inside parentheses. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

const KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$/;

export function parseSelector(text: string): SelectorTerm[] {
  if (text.trim() === '') return [];
  return splitTerms(text).map((t) => {
    if (t === '') throw bad(text, "found '', expected: !, identifier, or 'end of string'");
    const key = (k: string) => {
      const kk = k.trim();
      if (!KEY.test(kk)) throw bad(text, `invalid label key "${kk}"`);
      return kk;
    };
    const value = (v: string) => {
      const vv = v.trim();
      if (!VALUE.test(vv) || vv.length > 63) throw bad(text, `invalid label value "${vv}"`);
      return vv;
    };
    if (t.startsWith('!')) return { key: key(t.slice(1)), op: '!', values: [] };
    const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(t);
    if (set) {
      const values = set[3]!.split(',').map(value);
      return { key: key(set[1]!), op: set[2] as 'in' | 'notin', values };
    }
    const m = /^([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*)$/.exec(t);
    if (m) {
      const op = m[2] === '==' || m[2] === '=' ? '=' : m[2] === '!=' ? '!=' : m[2] === '>' ? 'gt' : 'lt';
      if ((op === 'gt' || op === 'lt') && !/^-?\d+$/.test(m[3]!.trim()))
        throw bad(text, `for 'gt', 'lt' operators, the value must be an integer`);
      return { key: key(m[1]!), op, values: [value(m[3]!)] };
    }
    if (/[\s=<>()]/.test(t)) throw bad(text, `cannot understand "${t}"`);
    return { key: key(t), op: 'exists', values: [] };
  });
}

export function matchesTerms(terms: readonly SelectorTerm[], labels: Labels): boolean {
  return terms.every((t) => matchesTerm(t, labels));
}

function matchesTerm(t: SelectorTerm, labels: Labels): boolean {
  const has = Object.hasOwn(labels, t.key);
  const v = labels[t.key];
  switch (t.op) {
    case '=':
      return has && v === t.values[0];
    case '!=':
      return !has || v !== t.values[0];
    case 'in':
      return has && t.values.includes(v!);
    case 'notin':
      return !has || !t.values.includes(v!);
    case 'exists':
      return has;
    case '!':
      return !has;
    case 'gt':
    case 'lt': {
      if (!has || !/^-?\d+$/.test(v!)) return false;
      const n = Number(v);
      const lim = Number(t.values[0]);
      return t.op === 'gt' ? n > lim : n < lim;
    }
  }
}
