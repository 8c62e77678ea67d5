/**
 * A learner's progress, kept in the lab directory as .kpath-lab.json: which lab, how many hints were
 * shown, and every check run ({at, passed}). `start` writes it, `hint` and `check` update it, `reset`
 * clears it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';
import { LAB_PROGRESS_FILE } from '../proxy/manifest-files.js';

export interface Progress {
  readonly lab: string;
  readonly hintsShown: number;
  readonly checks: readonly { readonly at: string; readonly passed: boolean }[];
}

export function progressPath(dir: string): string {
  return join(dir, LAB_PROGRESS_FILE);
}

export function freshProgress(lab: string): Progress {
  return { lab, hintsShown: 0, checks: [] };
}

/** The progress in `dir`; a directory without one is not a lab directory. */
export function readProgress(dir: string): Progress {
  const p = progressPath(dir);
  if (!existsSync(p))
    throw new KpathError(
      ErrorCodes.USAGE,
      `${dir} is not a lab directory (it has no ${LAB_PROGRESS_FILE}); start one with: kpath lab start NAME --dir ${dir}`,
    );
  let j: unknown;
  try {
    j = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new KpathError(
      ErrorCodes.INVALID,
      `${p}: not JSON (${(e as Error).message}); kpath lab reset --dir ${dir} writes a fresh one`,
      { cause: e },
    );
  }
  const o = (j ?? {}) as Partial<Progress>;
  if (typeof o.lab !== 'string')
    throw new KpathError(ErrorCodes.INVALID, `${p}: "lab" (the lab's name) is missing`);
  return {
    lab: o.lab,
    hintsShown: typeof o.hintsShown === 'number' && o.hintsShown >= 0 ? Math.floor(o.hintsShown) : 0,
    checks: Array.isArray(o.checks)
      ? o.checks.filter(
          (c): c is Progress['checks'][number] =>
            typeof c === 'object' && c !== null && typeof c.at === 'string' && typeof c.passed === 'boolean',
        )
      : [],
  };
}

export function writeProgress(dir: string, p: Progress): void {
  writeFileSync(progressPath(dir), `${JSON.stringify(p, null, 2)}\n`);
}
