/**
 * Strict decoding as the apiserver does it (fieldValidation=Strict, kubectl apply's default): a field
 * the kind's schema does not declare is an error, named by its whole path as the apiserver names it
 * (`strict decoding error: unknown field "spec.selectr"`), with the closest declared field as a hint.
 */
import type { FieldPath } from './diagnostics.js';
import type { Fields } from './fields.js';
import { isPlainObject } from './manifest.js';
import { ANY, type Schema } from './schema.js';

/** Report every undeclared field of `value` (at `path` under `f`) against `schema`. */
export function checkUnknownFields(f: Fields, schema: Schema, value: unknown, path: FieldPath = []): void {
  if (schema === ANY || value === null || value === undefined) return;
  if (Array.isArray(schema)) {
    if (!Array.isArray(value)) return; // a wrong type is the decoder's to report
    value.forEach((item, i) => {
      checkUnknownFields(f, schema[0] as Schema, item, [...path, i]);
    });
    return;
  }
  if (!isPlainObject(value)) return;
  const fields = schema as Readonly<Record<string, Schema>>;
  for (const [k, v] of Object.entries(value)) {
    const sub = Object.hasOwn(fields, k) ? fields[k] : undefined;
    if (sub === undefined) {
      const full = [...f.base, ...path, k];
      const hint = closest(k, Object.keys(fields));
      f.keyError([...path, k], `unknown field "${dotted(full)}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
      continue;
    }
    checkUnknownFields(f, sub, v, [...path, k]);
  }
}

/** The apiserver's spelling of a path: dots between fields, [i] for list items. */
function dotted(path: FieldPath): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/** The candidate within edit distance 2 (or a case-insensitive match), if there is exactly a best one. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = word.length <= 4 ? 1 : 2;
  return bestD <= limit ? best : undefined;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}
