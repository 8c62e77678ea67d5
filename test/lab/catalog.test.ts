/**
 * Every bundled lab is well formed: its lab.yaml decodes (topics from the vocabulary, known check
 * kinds), its manifests build, its solution.patch applies to them and the fixed manifests build too,
 * and TASK.md is there. Cheap (no traffic): the per-lab tests run the traffic.
 */
import { describe, expect, it } from 'vitest';
import { applyPatch, labNames, loadLab, parsePatch, prepareChecks, TOPICS } from '../../lab/index.js';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { lab } from './helpers.js';

const names = labNames();

describe('the bundled labs', () => {
  it('there are labs, each named in kebab-case', () => {
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });

  for (const name of names) {
    it(`${name}: lab.yaml, TASK.md, manifests and solution.patch agree`, () => {
      const l = loadLab(name);
      expect(l.spec.topics.every((t) => (TOPICS as readonly string[]).includes(t))).toBe(true);
      expect(l.spec.hints.length).toBeGreaterThanOrEqual(2);
      expect(prepareChecks(l).length).toBe(l.spec.checks.length);
      expect(l.task).toMatch(/^# /);
      expect(l.task).toMatch(/kpath /);
      const broken = buildCluster([...l.manifests].map(([file, text]) => ({ file, text })));
      expect(broken.ok, JSON.stringify(broken.diagnostics)).toBe(true);
      const changed = applyPatch(l.manifests, parsePatch(l.solution));
      expect(changed.size).toBeGreaterThan(0);
      const fixed = new Map(l.manifests);
      for (const [f, t] of changed) {
        expect(t, `${f} changes`).not.toBe(l.manifests.get(f));
        if (t === null) fixed.delete(f);
        else fixed.set(f, t);
      }
      const after = buildCluster([...fixed].map(([file, text]) => ({ file, text })));
      expect(after.ok, JSON.stringify(after.diagnostics)).toBe(true);
    });
  }
});

describe('kpath lab list', () => {
  it('-o json: every lab as {name, title, topics, difficulty, summary}', async () => {
    const r = await lab('list', '-o', 'json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as Record<string, unknown>[];
    expect(j.map((x) => x.name)).toEqual(names);
    for (const x of j)
      expect(Object.keys(x).sort()).toEqual(['difficulty', 'name', 'summary', 'title', 'topics']);
  });

  it('text: a kubectl-style table', async () => {
    const r = await lab('list');
    expect(r.out.split('\n')[0]).toMatch(/^NAME\s+DIFFICULTY\s+TOPICS\s+SUMMARY$/);
    expect(r.out).toContain('no-endpoints');
  });
});
