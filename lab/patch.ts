/**
 * Unified diffs as `diff -u` / `git diff` write them: parse, and apply to texts in memory. A hunk is
 * applied where its old lines are, at the line it names or, as GNU patch does, at the nearest offset
 * where they all match; no fuzz (a hunk whose context changed does not apply, and says where).
 */
import { ErrorCodes, KpathError } from '../netmodel/errors.js';

export interface Hunk {
  readonly oldStart: number;
  readonly oldLines: number;
  readonly newStart: number;
  readonly newLines: number;
  /** Each line with its marker: ' ' context, '-' removed, '+' added. */
  readonly lines: readonly { readonly op: ' ' | '-' | '+'; readonly text: string }[];
  /** The old side / new side has no newline at its end (`\ No newline at end of file`). */
  readonly oldNoEol: boolean;
  readonly newNoEol: boolean;
}

export interface FilePatch {
  /** The path relative to the lab directory (a/ and b/ prefixes removed); null for /dev/null. */
  readonly oldPath: string | null;
  readonly newPath: string | null;
  readonly hunks: readonly Hunk[];
}

function bad(what: string): KpathError {
  return new KpathError(ErrorCodes.INVALID, `patch: ${what}`);
}

function pathOf(header: string): string | null {
  const p = header.replace(/\t.*$/, '').trim();
  if (p === '/dev/null') return null;
  return p.replace(/^[ab]\//, '');
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

export function parsePatch(text: string): FilePatch[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: FilePatch[] = [];
  let i = 0;
  while (i < lines.length) {
    if (!lines[i]!.startsWith('--- ')) {
      i++;
      continue;
    }
    const oldPath = pathOf(lines[i]!.slice(4));
    const plus = lines[i + 1];
    if (plus === undefined || !plus.startsWith('+++ ')) throw bad(`line ${i + 2}: expected "+++ b/FILE"`);
    const newPath = pathOf(plus.slice(4));
    i += 2;
    const hunks: Hunk[] = [];
    while (i < lines.length && lines[i]!.startsWith('@@')) {
      const m = HUNK.exec(lines[i]!);
      if (!m) throw bad(`line ${i + 1}: not a hunk header: ${lines[i]}`);
      const oldLines = m[2] === undefined ? 1 : Number(m[2]);
      const newLines = m[4] === undefined ? 1 : Number(m[4]);
      const headerLine = i + 1;
      i++;
      const body: Hunk['lines'][number][] = [];
      let o = 0;
      let n = 0;
      let oldNoEol = false;
      let newNoEol = false;
      while (i < lines.length && (o < oldLines || n < newLines || lines[i]!.startsWith('\\'))) {
        const l = lines[i]!;
        if (l.startsWith('\\')) {
          const prev = body[body.length - 1];
          if (prev?.op !== '+') oldNoEol = true;
          if (prev?.op !== '-') newNoEol = true;
          i++;
          continue;
        }
        const op = l === '' ? ' ' : l[0];
        if (op !== ' ' && op !== '-' && op !== '+')
          throw bad(
            `line ${i + 1}: expected a line starting with ' ', '-' or '+' in the hunk at line ${headerLine}`,
          );
        body.push({ op, text: l.slice(1) });
        if (op !== '+') o++;
        if (op !== '-') n++;
        i++;
      }
      if (o !== oldLines || n !== newLines)
        throw bad(
          `the hunk at line ${headerLine} promises ${oldLines} old and ${newLines} new lines but holds ${o} and ${n}`,
        );
      hunks.push({
        oldStart: Number(m[1]),
        oldLines,
        newStart: Number(m[3]),
        newLines,
        lines: body,
        oldNoEol,
        newNoEol,
      });
    }
    if (!hunks.length) throw bad(`${newPath ?? oldPath}: no hunks`);
    out.push({ oldPath, newPath, hunks });
  }
  if (!out.length) throw bad('no file in the patch (expected "--- a/FILE" / "+++ b/FILE" / "@@ ... @@")');
  return out;
}

/** Why a hunk did not apply, for the person reading it. */
export class PatchConflict extends Error {
  constructor(
    readonly file: string,
    readonly hunk: number,
    readonly line: number,
  ) {
    super(`${file}: hunk #${hunk} (at line ${line}) does not match the file: it was edited there`);
  }
}

/** Apply one file's hunks to its old text (null: the file does not exist) and return the new text. */
export function applyFilePatch(old: string | null, fp: FilePatch): string | null {
  const file = fp.newPath ?? fp.oldPath ?? '?';
  const hadEol = old === null || old === '' || old.endsWith('\n');
  const src = old === null || old === '' ? [] : (hadEol ? old.slice(0, -1) : old).split('\n');
  const out: string[] = [];
  let pos = 0;
  let delta = 0;
  let eol = hadEol;
  fp.hunks.forEach((h, idx) => {
    const before = h.lines.filter((l) => l.op !== '+').map((l) => l.text);
    const after = h.lines.filter((l) => l.op !== '-').map((l) => l.text);
    const want = Math.max(0, (h.oldLines === 0 ? h.oldStart : h.oldStart - 1) + delta);
    const fits = (at: number) =>
      at >= pos && at + before.length <= src.length && before.every((t, k) => src[at + k] === t);
    let at = -1;
    for (let off = 0; off <= src.length; off++) {
      if (fits(want - off)) {
        at = want - off;
        break;
      }
      if (fits(want + off)) {
        at = want + off;
        break;
      }
    }
    if (at < 0) throw new PatchConflict(file, idx + 1, h.oldStart);
    out.push(...src.slice(pos, at), ...after);
    pos = at + before.length;
    delta = at - (h.oldStart - 1);
    if (pos === src.length) eol = !h.newNoEol;
  });
  out.push(...src.slice(pos));
  if (fp.newPath === null) return null;
  if (out.length === 0) return '';
  return out.join('\n') + (eol ? '\n' : '');
}

/**
 * Apply a whole patch to a set of files (name -> text; absent: the file does not exist). Returns the
 * changed files' new texts (null: deleted). Throws PatchConflict when a hunk does not apply.
 */
export function applyPatch(
  files: ReadonlyMap<string, string>,
  patch: readonly FilePatch[],
): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const fp of patch) {
    const name = fp.oldPath ?? fp.newPath!;
    const cur = out.has(name) ? out.get(name)! : (files.get(name) ?? null);
    if (fp.oldPath !== null && cur === null)
      throw new PatchConflict(fp.oldPath, 1, fp.hunks[0]?.oldStart ?? 0);
    const next = applyFilePatch(cur, fp);
    out.set(fp.newPath ?? name, next);
    if (fp.newPath !== null && fp.oldPath !== null && fp.newPath !== fp.oldPath) out.set(fp.oldPath, null);
  }
  return out;
}
