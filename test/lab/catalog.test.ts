/**
 * Every bundled lab is well formed: its lab.yaml decodes (topics from the vocabulary, known check
 * kinds), its manifests build, its solution.patch applies to them and the fixed manifests build too,
 * and TASK.md is there; every kpath command its TASK.md or `look` names runs in the started lab
 * directory (those that need a running `kpath up`, and `kpath lab`, left out). No traffic: labs.test.ts
 * runs the traffic.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
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

const LIVE = /^kpath (lab|up|curl|endpoints|conntrack|affinity)\b|^sudo /;

/** The commands of a lab, without comments. */
function labCommands(name: string): string[] {
  const l = loadLab(name);
  const fromTask = l.task
    .split('\n')
    .filter((x) => /^ {4}(sudo )?kpath /.test(x))
    .map((x) => x.trim());
  return [...new Set([...fromTask, ...l.spec.look].map((c) => c.replace(/\s+#.*$/, '').trim()))].filter(
    (c) => !LIVE.test(c),
  );
}

/** Split a command line as a shell would for these simple lines (no quotes needed in them). */
function argv(cmd: string): string[] {
  return cmd.split(/\s+/).slice(1);
}

const root = mkdtempSync(join(tmpdir(), 'kpath-lab-cmds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the commands each lab names', () => {
  for (const name of labNames()) {
    it(`${name}: every command runs in the lab directory`, async () => {
      const dir = join(root, name);
      expect((await lab('start', name, '--dir', dir)).code).toBe(0);
      for (const cmd of labCommands(name)) {
        const io = bufferIO(dir);
        const code = await main(argv(cmd), io);
        // 0, or 1 where the command reports what it found (an unresolved name, a denied flow).
        expect(code, `${cmd}\n${io.stderr()}`).toBeLessThan(2);
        expect(io.stdout().length, cmd).toBeGreaterThan(0);
      }
    });
  }
});
