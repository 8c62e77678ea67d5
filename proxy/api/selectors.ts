/**
 * labelSelector and fieldSelector query parameters, parsed as k8s.io/apimachinery's labels.Parse and
 * fields.ParseSelector read them: `a=b,c!=d,e in (x,y),f notin (z),g,!h` and `metadata.name=x,status.phase!=Running`.
 */
import { ApiError, errors } from './status.js';

export type LabelRequirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

export type Labels = Readonly<Record<string, string>>;

/** Split on commas outside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

const KEY_RE = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checked(r: LabelRequirement, part: string): LabelRequirement {
  const values = 'values' in r ? r.values : 'value' in r ? [r.value] : [];
  if (!KEY_RE.test(r.key) || r.key.length > 316 || values.some((v) => !VALUE_RE.test(v) || v.length > 63)) {
    throw errors.badRequest(
      `unable to parse requirement: '${part}': a label key must be a qualified name and values must be 63 characters or less, alphanumeric, '-', '_' or '.'`,
    );
  }
  return r;
}

export function parseLabelSelector(s: string | null): LabelRequirement[] {
  if (!s) return [];
  const out: LabelRequirement[] = [];
  for (const part of splitTop(s)) {
    let m = /^(\S+?)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (m) {
      const values = m[3]!
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
      out.push(checked({ op: m[2] as 'in' | 'notin', key: m[1]!, values }, part));
      continue;
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) {
      out.push(checked({ op: m[2] === '!=' ? 'neq' : 'eq', key: m[1]!, value: m[3]! }, part));
      continue;
    }
    m = /^(!?)([^=!\s()]+)$/.exec(part);
    if (m) {
      out.push(checked({ op: m[1] ? 'notexists' : 'exists', key: m[2]! }, part));
      continue;
    }
    throw errors.badRequest(
      `unable to parse requirement: found '${part}', expected: in, notin, =, ==, !=, gt, lt`,
    );
  }
  return out;
}

export function matchesLabels(reqs: readonly LabelRequirement[], labels: Labels): boolean {
  for (const r of reqs) {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case 'eq':
        if (v !== r.value) return false;
        break;
      case 'neq':
        if (has && v === r.value) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(v!)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
    }
  }
  return true;
}

export interface FieldRequirement {
  readonly path: readonly string[];
  readonly field: string;
  readonly op: 'eq' | 'neq';
  readonly value: string;
}

/** Fields every resource may be selected on; other paths are allowed where the object has them. */
export function parseFieldSelector(s: string | null): FieldRequirement[] {
  if (!s) return [];
  return splitTop(s).map((part) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw errors.badRequest(`invalid selector: '${s}'; can't understand '${part}'`);
    const field = m[1]!.trim();
    if (!/^[A-Za-z][\w.]*$/.test(field)) throw errors.badRequest(`"${field}" is not a known field selector`);
    return {
      path: field.split('.'),
      field,
      op: m[2] === '!=' ? 'neq' : 'eq',
      value: m[3]!.trim(),
    } as FieldRequirement;
  });
}

function lookup(obj: Record<string, unknown>, path: readonly string[]): string {
  let cur: unknown = obj;
  for (const p of path) {
    if (!cur || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'object' ? JSON.stringify(cur) : String(cur);
}

export function matchesFields(reqs: readonly FieldRequirement[], obj: Record<string, unknown>): boolean {
  for (const r of reqs) {
    const v = lookup(obj, r.path);
    if (r.op === 'eq' ? v !== r.value : v === r.value) return false;
  }
  return true;
}

export { ApiError };
