/**
 * The learner's side of `kpath lab`: start refuses to overwrite, hints escalate and are counted,
 * progress survives in the directory, reset restores the broken manifests, check says exit 2 for
 * manifests the API server would refuse, solve refuses to clobber edits it conflicts with.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { completeWords } from '../../cli/commands/complete-words.js';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { loadLab, readProgress } from '../../lab/index.js';
import { lab } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'kpath-lab-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`);

describe('kpath lab start', () => {
  it('writes the manifests, TASK.md and progress into ./NAME and prints the task and what to run', async () => {
    const cwd = fresh();
    mkdirSync(cwd);
    const io = bufferIO(cwd);
    expect(await main(['lab', 'start', 'no-endpoints'], io)).toBe(0);
    const dir = join(cwd, 'no-endpoints');
    expect(readFileSync(join(dir, 'cluster.yaml'), 'utf8')).toBe(
      loadLab('no-endpoints').manifests.get('cluster.yaml'),
    );
    expect(existsSync(join(dir, 'TASK.md'))).toBe(true);
    expect(readProgress(dir)).toEqual({ lab: 'no-endpoints', hintsShown: 0, checks: [] });
    expect(io.stdout()).toContain('# Connection refused from a service whose pods are fine');
    expect(io.stdout()).toContain('See the symptom (in no-endpoints/):\n  kpath lab check\n');
  });

  it('refuses a non-empty directory without --force (exit 2), writes into it with --force', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const r = await lab('start', 'no-endpoints', '--dir', dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/is not empty; pick another --dir, or --force/);
    expect(existsSync(join(dir, 'cluster.yaml'))).toBe(false);
    expect((await lab('start', 'no-endpoints', '--dir', dir, '--force')).code).toBe(0);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('an unknown lab is a usage error naming the labs', async () => {
    const r = await lab('start', 'no-such-lab', '--dir', fresh());
    expect(r.code).toBe(2);
    expect(r.err).toContain('no lab named "no-such-lab"; the labs are: ');
  });
});

describe('kpath lab hint, reset, solve', () => {
  it('hints come in order, are counted in .kpath-lab.json, and the last one repeats', async () => {
    const dir = fresh();
    await lab('start', 'no-endpoints', '--dir', dir);
    const hints = loadLab('no-endpoints').spec.hints;
    for (let i = 0; i < hints.length; i++) {
      const r = await lab('hint', '--dir', dir);
      expect(r.out).toBe(`Hint ${i + 1} of ${hints.length}: ${hints[i]}\n`);
      expect(readProgress(dir).hintsShown).toBe(i + 1);
    }
    const again = await lab('hint', '--dir', dir);
    expect(again.out).toContain(`Hint ${hints.length} of ${hints.length}`);
    expect(again.out).toContain('That was the last hint. `kpath lab solve`');
    expect(readProgress(dir).hintsShown).toBe(hints.length);
  });

  it('reset puts the broken manifests back and clears progress', async () => {
    const dir = fresh();
    await lab('start', 'no-endpoints', '--dir', dir);
    await lab('hint', '--dir', dir);
    expect((await lab('solve', '--dir', dir)).code).toBe(0);
    expect(readFileSync(join(dir, 'cluster.yaml'), 'utf8')).toContain('app: api-server\n  ports:');
    const r = await lab('reset', '--dir', dir);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'cluster.yaml'), 'utf8')).toBe(
      loadLab('no-endpoints').manifests.get('cluster.yaml'),
    );
    expect(readProgress(dir)).toEqual({ lab: 'no-endpoints', hintsShown: 0, checks: [] });
  });

  it('solve prints the diff; it refuses edits it conflicts with unless --force', async () => {
    const dir = fresh();
    await lab('start', 'no-endpoints', '--dir', dir);
    const f = join(dir, 'cluster.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('    app: api\n  ports:', '    app: backend\n  ports:'));
    const r = await lab('solve', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cluster\.yaml: hunk #1 \(at line 31\) does not match the file/);
    const forced = await lab('solve', '--dir', dir, '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toContain('-    app: api\n+    app: api-server\n');
    expect(forced.out).toContain('your edits to cluster.yaml were replaced');
    expect(readFileSync(f, 'utf8')).toContain('    app: api-server\n  ports:');
  });

  it('a directory that is not a lab is a usage error (exit 2)', async () => {
    const dir = fresh();
    mkdirSync(dir);
    for (const a of ['check', 'hint', 'solve', 'reset']) {
      const r = await lab(a, '--dir', dir);
      expect(r.code, a).toBe(2);
      expect(r.err).toContain('is not a lab directory');
    }
  });
});

describe('kpath lab check', () => {
  it('invalid manifests: exit 2 with the errors, nothing run, no check recorded', async () => {
    const dir = fresh();
    await lab('start', 'no-endpoints', '--dir', dir);
    const f = join(dir, 'cluster.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('      targetPort: 8080', '      targetPort: 99999'));
    const r = await lab('check', '--dir', dir, '-o', 'json');
    expect(r.code).toBe(2);
    const j = JSON.parse(r.out) as { passed: boolean; errors: string[] };
    expect(j.passed).toBe(false);
    expect(j.errors.join('\n')).toMatch(/cluster\.yaml:\d+:\d+.*targetPort/);
    expect(readProgress(dir).checks).toEqual([]);
  });

  it('records each run in the progress file; kpath -f DIR ignores that file', async () => {
    const dir = fresh();
    await lab('start', 'wrong-targetport', '--dir', dir);
    const r = await lab('check', '--dir', dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^kpath lab check: wrong-targetport — /);
    expect(r.out).toMatch(
      /\n {2}FAIL {2}the client pod reaches the catalog: 4 of 4 requests: connection refused/,
    );
    expect(r.out).toContain('Not fixed yet: 2 of 2 checks fail.');
    expect(readProgress(dir).checks.map((c) => c.passed)).toEqual([false]);
    const io = bufferIO();
    expect(await main(['get', 'pods', '-f', dir], io)).toBe(0);
    expect(io.stderr()).toBe('');
  });
});

describe('kpath lab --help', () => {
  it("describes the learner's path", async () => {
    const io = bufferIO();
    expect(await main(['lab', '--help'], io)).toBe(0);
    expect(io.stdout()).toContain("A learner's path: `kpath lab list`, `kpath lab start NAME`");
    expect(io.stdout()).toMatch(/check .*exit 0/s);
  });
});

describe('completion', () => {
  it('kpath lab start <TAB> offers the lab names', () => {
    let got: string[] = [];
    completeWords(
      'no',
      { _: ['kpath', 'lab', 'start', 'no'] },
      () => undefined,
      (c) => {
        got = c;
      },
    );
    expect(got).toEqual(expect.arrayContaining(['no-endpoints', 'nodeport-collision']));
    expect(got.every((n) => n.startsWith('no'))).toBe(true);
  });
});
