/**
 * The bundled labs: every directory of examples/labs holding a lab.yaml. A lab directory holds
 * lab.yaml, TASK.md, its broken manifests (*.yaml, *.yml) and solution.patch.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';
import { type LabSpec, parseLabSpec } from './spec.js';

export const LAB_FILE = 'lab.yaml';
export const TASK_FILE = 'TASK.md';
export const SOLUTION_FILE = 'solution.patch';
const MANIFEST = /\.ya?ml$/i;

export interface Lab {
  readonly spec: LabSpec;
  /** The lab's directory in examples/labs. */
  readonly dir: string;
  /** The broken manifests: file name -> text. */
  readonly manifests: ReadonlyMap<string, string>;
  readonly task: string;
  readonly solution: string;
}

/** examples/labs, from the sources (lab/) or the build (dist/lab/). */
export function labsRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [resolve(here, '../examples/labs'), resolve(here, '../../examples/labs')]) {
    if (existsSync(c) && statSync(c).isDirectory()) return c;
  }
  throw new KpathError(
    ErrorCodes.NOT_FOUND,
    'the bundled labs (examples/labs) are missing from this installation; reinstall kpath',
  );
}

/** The names of every bundled lab, sorted. */
export function labNames(root = labsRoot()): string[] {
  return readdirSync(root)
    .filter((n) => existsSync(join(root, n, LAB_FILE)))
    .sort();
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new KpathError(
      ErrorCodes.NOT_FOUND,
      `${path}: cannot read the lab's ${what} (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      { cause: e },
    );
  }
}

export function loadLab(name: string, root = labsRoot()): Lab {
  const dir = join(root, name);
  if (!/^[a-z0-9-]+$/.test(name) || !existsSync(join(dir, LAB_FILE)))
    throw new KpathError(ErrorCodes.NOT_FOUND, `no lab named "${name}" (see: kpath lab list)`);
  const spec = parseLabSpec(read(join(dir, LAB_FILE), LAB_FILE), join(dir, LAB_FILE), name);
  const manifests = new Map<string, string>();
  for (const f of readdirSync(dir).sort())
    if (MANIFEST.test(f) && f !== LAB_FILE) manifests.set(f, read(join(dir, f), 'manifests'));
  if (manifests.size === 0)
    throw new KpathError(ErrorCodes.INVALID, `${dir}: the lab has no manifests (*.yaml besides lab.yaml)`);
  return {
    spec,
    dir,
    manifests,
    task: read(join(dir, TASK_FILE), TASK_FILE),
    solution: read(join(dir, SOLUTION_FILE), SOLUTION_FILE),
  };
}

export function loadAllLabs(root = labsRoot()): Lab[] {
  return labNames(root).map((n) => loadLab(n, root));
}
