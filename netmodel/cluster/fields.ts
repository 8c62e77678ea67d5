/**
 * Typed reading of one raw object's fields. Every wrong field becomes a diagnostic at its path (with
 * file:line:column); reading continues so all errors are reported together.
 */
import type { FieldPath, ObjectRef, Origin, Reporter } from './diagnostics.js';
import { isPlainObject } from './manifest.js';

export class Fields {
  readonly origin: Origin | undefined;
  readonly ref: ObjectRef;
  readonly report: Reporter;
  readonly body: Record<string, unknown>;
  /** Prefix of every path (a Pod template inside a Deployment reads under spec.template). */
  readonly base: FieldPath;

  constructor(
    body: Record<string, unknown>,
    origin: Origin | undefined,
    ref: ObjectRef,
    report: Reporter,
    base: FieldPath = [],
  ) {
    this.body = body;
    this.origin = origin;
    this.ref = ref;
    this.report = report;
    this.base = base;
  }

  /** A reader for a nested object, reporting paths relative to this object. */
  at(path: FieldPath): Fields {
    const v = this.get(path);
    return new Fields(isPlainObject(v) ? v : {}, this.origin, this.ref, this.report, [...this.base, ...path]);
  }

  get(path: FieldPath): unknown {
    let cur: unknown = this.body;
    for (const p of path) {
      if (typeof p === 'number') {
        if (!Array.isArray(cur)) return undefined;
        cur = cur[p];
      } else {
        if (!isPlainObject(cur)) return undefined;
        cur = cur[p];
      }
    }
    return cur;
  }

  has(path: FieldPath): boolean {
    const v = this.get(path);
    return v !== undefined && v !== null;
  }

  error(path: FieldPath, message: string): void {
    this.report.error(this.origin, this.ref, [...this.base, ...path], message);
  }

  /** An error about the field's name (an unknown field), positioned at its key. */
  keyError(path: FieldPath, message: string): void {
    this.report.keyError(this.origin, this.ref, [...this.base, ...path], message);
  }

  warning(path: FieldPath, message: string): void {
    this.report.warning(this.origin, this.ref, [...this.base, ...path], message);
  }

  str(path: FieldPath): string | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') {
      this.error(path, `expected a string, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  requiredStr(path: FieldPath, what: string): string | undefined {
    const v = this.str(path);
    if (v === undefined && !this.has(path)) this.error(path, `required: ${what}`);
    return v;
  }

  /** An integer; with `min`/`max` the range is checked and named in the message. */
  int(path: FieldPath, range?: { min?: number; max?: number }): number | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      this.error(path, `expected an integer, got ${describe(v)}`);
      return undefined;
    }
    if (range && ((range.min !== undefined && v < range.min) || (range.max !== undefined && v > range.max))) {
      this.error(
        path,
        `must be between ${range.min ?? '-inf'} and ${range.max ?? 'inf'}, inclusive (got ${v})`,
      );
      return undefined;
    }
    return v;
  }

  bool(path: FieldPath): boolean | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') {
      this.error(path, `expected true or false, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(path: FieldPath, allowed: readonly T[]): T | undefined {
    const v = this.str(path);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) {
      this.error(
        path,
        `unsupported value "${v}": supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`,
      );
      return undefined;
    }
    return v as T;
  }

  array(path: FieldPath): unknown[] | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      this.error(path, `expected a list, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  strArray(path: FieldPath): string[] | undefined {
    const a = this.array(path);
    if (!a) return undefined;
    const out: string[] = [];
    a.forEach((v, i) => {
      if (typeof v === 'string') out.push(v);
      else this.error([...path, i], `expected a string, got ${describe(v)}`);
    });
    return out;
  }

  /** A map of string to string (labels, annotations, selectors). */
  strMap(path: FieldPath): Record<string, string> | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) {
      this.error(path, `expected a map of strings, got ${describe(v)}`);
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(v)) {
      if (typeof val === 'string') out[k] = val;
      else if (typeof val === 'number' || typeof val === 'boolean') {
        this.error([...path, k], `expected a string, got ${describe(val)} (quote it: "${String(val)}")`);
      } else this.error([...path, k], `expected a string, got ${describe(val)}`);
    }
    return out;
  }

  object(path: FieldPath): Record<string, unknown> | undefined {
    const v = this.get(path);
    if (v === undefined || v === null) return undefined;
    if (!isPlainObject(v)) {
      this.error(path, `expected an object, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string "${v}"`;
  return `${typeof v} ${String(v)}`;
}
