/** Unified diffs: parsed and applied as GNU patch applies them (offsets, no fuzz, no newline at end). */
import { describe, expect, it } from 'vitest';
import { applyPatch, PatchConflict, parsePatch } from '../../lab/index.js';

const file = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].map((x) => `${x}\n`).join('');

// As `diff -u` writes it for changing d to D and inserting X after i.
const patch = `--- a/f.yaml
+++ b/f.yaml
@@ -2,5 +2,5 @@
 b
 c
-d
+D
 e
 f
@@ -8,3 +8,4 @@
 h
 i
+X
 j
`;

describe('patch', () => {
  it('parses hunks with their counts and paths without a/ b/', () => {
    const p = parsePatch(patch);
    expect(p).toHaveLength(1);
    expect(p[0]!.oldPath).toBe('f.yaml');
    expect(p[0]!.hunks.map((h) => [h.oldStart, h.oldLines, h.newStart, h.newLines])).toEqual([
      [2, 5, 2, 5],
      [8, 3, 8, 4],
    ]);
  });

  it('applies at the named lines', () => {
    const out = applyPatch(new Map([['f.yaml', file]]), parsePatch(patch));
    expect(out.get('f.yaml')).toBe('a\nb\nc\nD\ne\nf\ng\nh\ni\nX\nj\n');
  });

  it('applies at an offset when lines were added above (as GNU patch: "Hunk #1 succeeded at 4 (offset 2 lines)")', () => {
    const out = applyPatch(new Map([['f.yaml', `x\ny\n${file}`]]), parsePatch(patch));
    expect(out.get('f.yaml')).toBe('x\ny\na\nb\nc\nD\ne\nf\ng\nh\ni\nX\nj\n');
  });

  it('refuses a hunk whose lines were edited, naming the hunk', () => {
    const edited = file.replace('d\n', 'dd\n');
    expect(() => applyPatch(new Map([['f.yaml', edited]]), parsePatch(patch))).toThrow(PatchConflict);
    expect(() => applyPatch(new Map([['f.yaml', edited]]), parsePatch(patch))).toThrow(/hunk #1/);
  });

  it('keeps "\\ No newline at end of file" on either side', () => {
    const p = `--- a/g\n+++ b/g\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n`;
    expect(applyPatch(new Map([['g', 'a\nb']]), parsePatch(p)).get('g')).toBe('a\nc\n');
  });

  it('rejects a hunk whose counts do not match its lines', () => {
    expect(() => parsePatch('--- a/g\n+++ b/g\n@@ -1,3 +1,3 @@\n a\n')).toThrow(/promises 3 old/);
  });
});
