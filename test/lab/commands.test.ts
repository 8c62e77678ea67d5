/**
 * Every kpath command a lab tells the learner to run (TASK.md's indented command lines and lab.yaml's
 * `look`) runs in the started lab directory without a usage or manifest error. Commands that need a
 * running `kpath up` (curl, endpoints, conntrack, up itself) and `kpath lab` are left out.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { labNames, loadLab } from '../../lab/index.js';
import { lab } from './helpers.js';

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
