/**
 * A lab as data: examples/labs/NAME/lab.yaml decoded and checked. A lab author's mistake is a
 * KpathError (KPATH_E_INVALID) naming the file, the field and what was expected.
 */
import { parse } from 'yaml';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';

/** The topics a lab may name (issue 16's vocabulary). */
export const TOPICS = [
  'selector',
  'ports',
  'readiness',
  'traffic-policy',
  'affinity',
  'dns',
  'networkpolicy',
  'ipvs',
  'overlay',
  'nodeport',
  'externalname',
  'conntrack',
  'docker',
  'masquerade',
  'mtu',
] as const;
export type Topic = (typeof TOPICS)[number];

export const DIFFICULTIES = ['beginner', 'intermediate', 'advanced'] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];

/** One check as written: its name and kind; the rest is the kind's to decode (lab/checks/). */
export interface CheckSpec {
  readonly name: string;
  readonly kind: string;
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface LabSpec {
  readonly name: string;
  readonly title: string;
  readonly topics: readonly Topic[];
  readonly difficulty: Difficulty;
  readonly summary: string;
  /** Commands that show the symptom, run in the lab directory. */
  readonly look: readonly string[];
  /** In order: the first points at a command, the last nearly gives the fix. */
  readonly hints: readonly string[];
  readonly checks: readonly CheckSpec[];
}

const NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

function invalid(file: string, field: string, what: string): KpathError {
  return new KpathError(ErrorCodes.INVALID, `${file}: ${field}: ${what}`);
}

function str(o: Record<string, unknown>, k: string, file: string): string {
  const v = o[k];
  if (typeof v !== 'string' || !v.trim()) throw invalid(file, k, 'required, a non-empty string');
  return v.trim();
}

function strList(o: Record<string, unknown>, k: string, file: string): string[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || !x.trim()))
    throw invalid(file, k, 'required, a non-empty list of strings');
  return (v as string[]).map((x) => x.trim());
}

/** Decode lab.yaml's text; `dirName` is the lab's directory name, which `name` must equal. */
export function parseLabSpec(text: string, file: string, dirName: string): LabSpec {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new KpathError(ErrorCodes.MANIFEST, `${file}: not YAML (${(e as Error).message})`, { cause: e });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw invalid(file, '(top)', 'expected a mapping with name, title, topics, ...');
  const o = doc as Record<string, unknown>;
  const name = str(o, 'name', file);
  if (!NAME.test(name)) throw invalid(file, 'name', `"${name}" is not kebab-case (e.g. selector-mismatch)`);
  if (name !== dirName) throw invalid(file, 'name', `"${name}" differs from its directory "${dirName}"`);
  const topics = strList(o, 'topics', file);
  for (const t of topics)
    if (!(TOPICS as readonly string[]).includes(t))
      throw invalid(file, 'topics', `"${t}" is not one of ${TOPICS.join(', ')}`);
  const difficulty = str(o, 'difficulty', file);
  if (!(DIFFICULTIES as readonly string[]).includes(difficulty))
    throw invalid(file, 'difficulty', `"${difficulty}" is not one of ${DIFFICULTIES.join(', ')}`);
  const rawChecks = o.checks;
  if (!Array.isArray(rawChecks) || rawChecks.length === 0)
    throw invalid(file, 'checks', 'required, a non-empty list of checks');
  const seen = new Set<string>();
  const checks = rawChecks.map((c, i): CheckSpec => {
    if (c === null || typeof c !== 'object' || Array.isArray(c))
      throw invalid(file, `checks[${i}]`, 'expected a mapping with name and kind');
    const raw = c as Record<string, unknown>;
    const n = str(raw, 'name', `${file}: checks[${i}]`);
    if (seen.has(n)) throw invalid(file, `checks[${i}].name`, `"${n}" is used twice`);
    seen.add(n);
    return { name: n, kind: str(raw, 'kind', `${file}: checks[${i}]`), raw };
  });
  return {
    name,
    title: str(o, 'title', file),
    topics: topics as Topic[],
    difficulty: difficulty as Difficulty,
    summary: str(o, 'summary', file),
    look: strList(o, 'look', file),
    hints: strList(o, 'hints', file),
    checks,
  };
}
