/**
 * kubectl's JSONPath dialect (k8s.io/client-go/util/jsonpath), restated: text outside braces is
 * printed as is; `{.a.b}` prints what the path finds (strings raw, objects and arrays as compact JSON
 * with sorted keys, several results separated by one space); `{range EXPR}...{end}` repeats its body
 * for each result; `{"\n"}` is a quoted literal. Paths: `.field`, `..field` (recursive), `*`,
 * `[n]`, `[-n]`, `[a:b]`, `[a:b:s]`, `[*]`, `[n,m]`, `['key']`, `[?(@.x=="y")]` with == != < > <= >=
 * and `[?(@.x)]` (has x), `$` the root, `@` the current object. A missing key prints nothing
 * (kubectl allows missing keys); an index out of range is an error, as in kubectl.
 * No npm package matches this dialect (jsonpath-plus and jsonpath follow Goessner's script filters,
 * not kubectl's `range`/`end`, quoted literals and output rules), so it is written here.
 */
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

type Step =
  | { t: 'field'; name: string }
  | { t: 'wild' }
  | { t: 'recursive' }
  | { t: 'index'; idx: number[] }
  | { t: 'slice'; start?: number; end?: number; step?: number }
  | { t: 'keys'; names: string[] }
  | { t: 'filter'; left: Path; op?: string; right?: Path | { lit: unknown } };

interface Path {
  readonly root: '$' | '@';
  readonly steps: Step[];
}

type Node =
  | { t: 'text'; text: string }
  | { t: 'path'; path: Path }
  | { t: 'range'; path: Path; body: Node[] };

export interface JsonPathTemplate {
  readonly nodes: readonly Node[];
  readonly source: string;
}

function parseError(src: string, why: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, `error parsing jsonpath ${src}, ${why}`);
}

/** Parse a template; throws KpathError(USAGE) with kubectl's wording for bad syntax. */
export function parseJsonPath(src: string): JsonPathTemplate {
  const actions: ({ t: 'text'; text: string } | { t: 'action'; body: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{', i);
    if (open < 0) {
      actions.push({ t: 'text', text: src.slice(i) });
      break;
    }
    if (open > i) actions.push({ t: 'text', text: src.slice(i, open) });
    // The action ends at the first '}' outside quotes.
    let j = open + 1;
    let quote = '';
    for (; j < src.length; j++) {
      const c = src[j]!;
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '}') break;
    }
    if (j >= src.length) throw parseError(src, 'unclosed action');
    actions.push({ t: 'action', body: src.slice(open + 1, j).trim() });
    i = j + 1;
  }
  const root: Node[] = [];
  const stack: Node[][] = [root];
  for (const a of actions) {
    const cur = stack[stack.length - 1]!;
    if (a.t === 'text') {
      cur.push({ t: 'text', text: a.text });
      continue;
    }
    const body = a.body;
    if (body === 'end') {
      if (stack.length === 1)
        throw new KpathError(ErrorCodes.USAGE, 'error executing jsonpath: not in range, nothing to end');
      stack.pop();
    } else if (body.startsWith('range ') || body === 'range') {
      const node: Node = { t: 'range', path: parsePath(body.slice(5).trim(), src), body: [] };
      cur.push(node);
      stack.push(node.body);
    } else if (body.startsWith('"')) {
      cur.push({ t: 'text', text: unquote(body, src) });
    } else if (body === '') {
      // `{}` prints nothing.
    } else {
      cur.push({ t: 'path', path: parsePath(body, src) });
    }
  }
  return { nodes: root, source: src };
}

function unquote(q: string, src: string): string {
  if (q.length < 2 || !q.endsWith('"')) throw parseError(src, `unterminated quoted string ${q}`);
  try {
    return JSON.parse(q) as string;
  } catch {
    // Go's strconv.Unquote also knows \a \v and \x; JSON does not. Handle the common ones.
    return q.slice(1, -1).replace(/\\(.)/g, (_m, c: string) => ({ n: '\n', t: '\t', r: '\r' })[c] ?? c);
  }
}

const FIELD_END = new Set(['.', '[', ']', '(', ')', ' ', ',', '=', '!', '<', '>', '&', '|']);

function parsePath(text: string, src: string): Path {
  let i = 0;
  let root: '$' | '@' = '@';
  if (text[0] === '$' || text[0] === '@') {
    root = text[0] as '$' | '@';
    i = 1;
  }
  const steps: Step[] = [];
  const readField = (): string => {
    let name = '';
    while (i < text.length && !FIELD_END.has(text[i]!)) {
      if (text[i] === '\\' && i + 1 < text.length) {
        name += text[i + 1];
        i += 2;
      } else name += text[i++];
    }
    return name;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '.') {
      if (text[i + 1] === '.') {
        steps.push({ t: 'recursive' });
        i += 2;
        if (text[i] === '[') continue;
      } else i++;
      if (text[i] === '*') {
        steps.push({ t: 'wild' });
        i++;
        continue;
      }
      const name = readField();
      if (name) steps.push({ t: 'field', name });
    } else if (c === '[') {
      const close = findClose(text, i, src);
      steps.push(parseBracket(text.slice(i + 1, close).trim(), src));
      i = close + 1;
    } else if (c === ' ') {
      i++;
    } else {
      // A bare field at the start (custom-columns relaxes `metadata.name`).
      const name = readField();
      if (!name)
        throw parseError(
          src,
          `unrecognized character in action: U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} '${c}'`,
        );
      steps.push({ t: 'field', name });
    }
  }
  return { root, steps };
}

function findClose(text: string, open: number, src: string): number {
  let depth = 0;
  let quote = '';
  for (let j = open; j < text.length; j++) {
    const c = text[j]!;
    if (quote) {
      if (c === '\\') j++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return j;
  }
  throw parseError(src, 'unterminated array');
}

function parseBracket(inner: string, src: string): Step {
  if (inner === '*') return { t: 'wild' };
  if (inner.startsWith('?')) {
    const m = /^\?\((.*)\)$/s.exec(inner);
    if (!m) throw parseError(src, `invalid filter ${inner}`);
    const expr = m[1]!.trim();
    const opMatch = /(==|!=|<=|>=|<|>)/.exec(stripQuoted(expr));
    if (!opMatch) return { t: 'filter', left: parsePath(expr, src) };
    const left = expr.slice(0, opMatch.index).trim();
    const right = expr.slice(opMatch.index + opMatch[0].length).trim();
    return { t: 'filter', left: parsePath(left, src), op: opMatch[0], right: parseOperand(right, src) };
  }
  if (inner.startsWith("'")) {
    const names = inner.split(',').map((s) => s.trim());
    if (!names.every((n) => n.length >= 2 && n.startsWith("'") && n.endsWith("'")))
      throw parseError(src, `invalid array index ${inner}`);
    return { t: 'keys', names: names.map((n) => n.slice(1, -1)) };
  }
  if (inner.includes(':')) {
    const parts = inner.split(':').map((s) => s.trim());
    const num = (s: string | undefined) => {
      if (s === undefined || s === '') return undefined;
      if (!/^-?\d+$/.test(s)) throw parseError(src, `invalid array index ${s}`);
      return Number(s);
    };
    const step: Step = { t: 'slice' };
    const start = num(parts[0]);
    const end = num(parts[1]);
    const st = num(parts[2]);
    if (start !== undefined) step.start = start;
    if (end !== undefined) step.end = end;
    if (st !== undefined) step.step = st;
    return step;
  }
  const idx = inner.split(',').map((s) => s.trim());
  if (!idx.every((s) => /^-?\d+$/.test(s)))
    throw parseError(src, `invalid array index "${inner.replace(/^"|"$/g, '')}"`);
  return { t: 'index', idx: idx.map(Number) };
}

/** Blank out quoted parts so an operator inside a string literal is not taken for the filter's. */
function stripQuoted(s: string): string {
  return s.replace(/"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'/g, (m) => ' '.repeat(m.length));
}

function parseOperand(s: string, src: string): Path | { lit: unknown } {
  if ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'")))
    return { lit: s.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(s)) return { lit: Number(s) };
  if (s === 'true' || s === 'false') return { lit: s === 'true' };
  if (s === 'nil' || s === 'null') return { lit: null };
  return parsePath(s, src);
}

// ---- evaluation ----

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortedValues(o: Record<string, unknown>): unknown[] {
  return Object.keys(o)
    .sort()
    .map((k) => o[k]);
}

/** Every value a path finds, from the root and the current object. */
export function evalPath(path: Path, root: unknown, current: unknown): unknown[] {
  let vals: unknown[] = [path.root === '$' ? root : current];
  for (const step of path.steps) {
    const next: unknown[] = [];
    for (const v of vals) applyStep(step, v, root, next);
    vals = next;
  }
  return vals;
}

function applyStep(step: Step, v: unknown, root: unknown, out: unknown[]): void {
  switch (step.t) {
    case 'field':
      if (isObj(v) && Object.hasOwn(v, step.name)) out.push(v[step.name]);
      return;
    case 'keys':
      if (isObj(v)) for (const k of step.names) if (Object.hasOwn(v, k)) out.push(v[k]);
      return;
    case 'wild':
      if (Array.isArray(v)) out.push(...v);
      else if (isObj(v)) out.push(...sortedValues(v));
      return;
    case 'recursive': {
      const walk = (x: unknown) => {
        out.push(x);
        if (Array.isArray(x)) x.forEach(walk);
        else if (isObj(x)) sortedValues(x).forEach(walk);
      };
      walk(v);
      return;
    }
    case 'index':
      if (!Array.isArray(v)) return;
      for (const n of step.idx) {
        const k = n < 0 ? v.length + n : n;
        if (k < 0 || k >= v.length)
          throw new KpathError(
            ErrorCodes.USAGE,
            `error executing jsonpath: array index out of bounds: index ${n}, length ${v.length}`,
          );
        out.push(v[k]);
      }
      return;
    case 'slice': {
      if (!Array.isArray(v)) return;
      const len = v.length;
      const norm = (n: number) => Math.min(len, Math.max(0, n < 0 ? len + n : n));
      const start = norm(step.start ?? 0);
      const end = norm(step.end ?? len);
      const by = step.step ?? 1;
      if (by <= 0) return;
      for (let k = start; k < end; k += by) out.push(v[k]);
      return;
    }
    case 'filter': {
      const items = Array.isArray(v) ? v : isObj(v) ? sortedValues(v) : [];
      for (const item of items) if (filterMatches(step, item, root)) out.push(item);
      return;
    }
  }
}

function filterMatches(step: Extract<Step, { t: 'filter' }>, item: unknown, root: unknown): boolean {
  const left = evalPath(step.left, root, item);
  if (!step.op) return left.length > 0 && left[0] !== null && left[0] !== undefined && left[0] !== false;
  const right =
    step.right && 'lit' in step.right ? [step.right.lit] : evalPath(step.right as Path, root, item);
  if (left.length === 0 || right.length === 0) return false;
  const a = left[0];
  const b = right[0];
  switch (step.op) {
    case '==':
      return compare(a, b) === 0;
    case '!=':
      return compare(a, b) !== 0;
    case '<':
      return compare(a, b) < 0;
    case '>':
      return compare(a, b) > 0;
    case '<=':
      return compare(a, b) <= 0;
    default:
      return compare(a, b) >= 0;
  }
}

/** Numbers compare as numbers (a string of digits as its number), everything else as its text. */
function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' || typeof b === 'number') {
    const x = Number(a);
    const y = Number(b);
    if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  }
  const x = textOf(a);
  const y = textOf(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Go's json.Marshal of an unstructured value: compact, map keys sorted. */
export function goJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .sort()
      .filter((k) => v[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${goJson(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') return goJson(v);
  return String(v);
}

/** Go's fmt.Sprint of an unstructured value, as custom-columns prints cells: map[k:v] and [a b]. */
export function goSprint(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goSprint).join(' ')}]`;
  if (isObj(v))
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goSprint(v[k])}`)
      .join(' ')}]`;
  if (v === null || v === undefined) return '<nil>';
  return String(v);
}

/** Render a template against an object, as `kubectl get -o jsonpath=...` prints it. */
export function renderJsonPath(t: JsonPathTemplate, obj: unknown): string {
  let out = '';
  const run = (nodes: readonly Node[], current: unknown) => {
    for (const n of nodes) {
      if (n.t === 'text') out += n.text;
      else if (n.t === 'path') out += evalPath(n.path, obj, current).map(textOf).join(' ');
      else for (const item of evalPath(n.path, obj, current)) run(n.body, item);
    }
  };
  run(t.nodes, obj);
  return out;
}

/**
 * A custom-columns path as kubectl relaxes it: `.a.b`, `a.b`, `{.a.b}` and `{a.b}` all mean `{.a.b}`.
 */
export function relaxedPath(expr: string): JsonPathTemplate {
  const m = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(expr);
  if (!m)
    throw new KpathError(
      ErrorCodes.USAGE,
      `unexpected path string ${expr}, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'`,
    );
  return parseJsonPath(`{.${m[1] ?? m[2]}}`);
}

/** The values of a one-path template (for custom-columns cells). */
export function findResults(t: JsonPathTemplate, obj: unknown): unknown[] {
  const out: unknown[] = [];
  for (const n of t.nodes) if (n.t === 'path') out.push(...evalPath(n.path, obj, obj));
  return out;
}
