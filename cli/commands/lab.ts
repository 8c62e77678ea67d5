/**
 * `kpath lab`: troubleshooting labs that check themselves. Each lab is a cluster broken on purpose
 * (examples/labs/NAME), a task that says only what a user would report, and checks that pass only
 * when real traffic works again.
 *
 *   kpath lab list [-o json]                 every lab: name, difficulty, topics, title
 *   kpath lab start NAME [--dir DIR] [--force]   the broken manifests and TASK.md into DIR (./NAME)
 *   kpath lab check [--dir DIR] [-o json]    run the cluster for real (in-process, loopback, no root,
 *                                            no fixed ports) and judge real traffic; exit 0 fixed,
 *                                            1 not yet, 2 invalid manifests
 *   kpath lab hint [--dir DIR]               the next hint
 *   kpath lab solve [--dir DIR] [--force]    apply the reference fix, print the diff
 *   kpath lab reset [--dir DIR]              the broken manifests back, progress cleared
 *
 * Progress (hints shown, checks run) lives in DIR/.kpath-lab.json.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve as resolvePath } from 'node:path';
import type { Argv } from 'yargs';
import {
  applyPatch,
  freshProgress,
  type Lab,
  labNames,
  loadAllLabs,
  loadLab,
  PatchConflict,
  parsePatch,
  readProgress,
  runChecks,
  TASK_FILE,
  writeProgress,
} from '../../lab/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { renderTable } from '../format/table.js';
import { type CliIO, EXIT } from '../io.js';

export const command = 'lab <action> [name]';
export const describe =
  'troubleshooting labs that check themselves: list, start NAME, check, hint, solve, reset';

const ACTIONS = ['list', 'start', 'check', 'hint', 'solve', 'reset'] as const;

export function builder(y: Argv) {
  return y
    .positional('action', { choices: ACTIONS, description: 'what to do' })
    .positional('name', { type: 'string', description: 'start: the lab (see kpath lab list)' })
    .option('dir', {
      type: 'string',
      description: 'the lab directory (start: default ./NAME; others: default the current directory)',
    })
    .option('force', {
      type: 'boolean',
      default: false,
      description: 'start: write into a non-empty DIR; solve: replace your edits where the fix conflicts',
    })
    .option('output', {
      alias: 'o',
      type: 'string',
      choices: ['text', 'json'],
      default: 'text',
      description: 'list, check: text or json',
    })
    .example('$0 lab list', 'every lab, with its topics and difficulty')
    .example('$0 lab start no-endpoints && cd no-endpoints', 'the task, and the commands that show it')
    .example('$0 lab check', 'run the cluster for real and judge it: exit 0 when fixed')
    .epilogue(
      "A learner's path: `kpath lab list`, `kpath lab start NAME`, read TASK.md and run the commands it " +
        'names (kpath get, trace, rules, curl...) in the lab directory, edit the manifests there, then ' +
        '`kpath lab check` until it passes; `kpath lab hint` when stuck, `kpath lab solve` to see the fix. ' +
        'check runs the cluster in this process on loopback addresses of its own (no root, no fixed ports), ' +
        'so it works next to a running kpath up; probes run ten times faster than written. check exits 0 ' +
        'when fixed, 1 when not yet, 2 when the manifests are invalid.',
    );
}

interface LabArgs {
  action: (typeof ACTIONS)[number];
  name?: string;
  dir?: string;
  force: boolean;
  output: 'text' | 'json';
}

function usage(msg: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, msg);
}

export async function run(args: LabArgs, io: CliIO): Promise<number> {
  switch (args.action) {
    case 'list':
      return list(args, io);
    case 'start':
      return start(args, io);
    case 'check':
      return check(args, io);
    case 'hint':
      return hint(args, io);
    case 'solve':
      return solve(args, io);
    case 'reset':
      return reset(args, io);
  }
}

function labDir(args: LabArgs, io: CliIO): string {
  return resolvePath(io.cwd, args.dir ?? '.');
}

/** The directory as the learner would type it (relative to where they are, when inside). */
function shown(dir: string, io: CliIO): string {
  const r = relative(io.cwd, dir);
  return r === '' ? '.' : r.startsWith('..') ? dir : r;
}

function list(args: LabArgs, io: CliIO): number {
  const labs = loadAllLabs();
  if (args.output === 'json') {
    const out = labs.map((l) => ({
      name: l.spec.name,
      title: l.spec.title,
      topics: l.spec.topics,
      difficulty: l.spec.difficulty,
      summary: l.spec.summary,
    }));
    io.out(`${JSON.stringify(out, null, 2)}\n`);
    return EXIT.OK;
  }
  io.out(
    renderTable(
      ['NAME', 'DIFFICULTY', 'TOPICS', 'SUMMARY'],
      labs.map((l) => [l.spec.name, l.spec.difficulty, l.spec.topics.join(','), l.spec.summary]),
    ),
  );
  io.out('\nStart one: kpath lab start NAME (writes ./NAME with the task and the broken manifests)\n');
  return EXIT.OK;
}

function writeLabFiles(lab: Lab, dir: string): void {
  for (const [f, text] of lab.manifests) writeFileSync(join(dir, f), text);
  writeFileSync(join(dir, TASK_FILE), lab.task);
}

function start(args: LabArgs, io: CliIO): number {
  if (!args.name) throw usage('name the lab to start: kpath lab start NAME (see: kpath lab list)');
  if (!labNames().includes(args.name))
    throw usage(`no lab named "${args.name}"; the labs are: ${labNames().join(', ')}`);
  const lab = loadLab(args.name);
  const dir = resolvePath(io.cwd, args.dir ?? lab.spec.name);
  if (existsSync(dir) && readdirSync(dir).length > 0 && !args.force)
    throw usage(`${shown(dir, io)} is not empty; pick another --dir, or --force to write the lab into it`);
  mkdirSync(dir, { recursive: true });
  writeLabFiles(lab, dir);
  writeProgress(dir, freshProgress(lab.spec.name));
  const where = shown(dir, io);
  io.out(`Lab ${lab.spec.name} (${lab.spec.difficulty}, ${lab.spec.topics.join(', ')}) is in ${where}/\n\n`);
  io.out(`${lab.task.trimEnd()}\n\n`);
  io.out(`See the symptom (in ${where}/):\n`);
  for (const c of lab.spec.look) io.out(`  ${c}\n`);
  io.out(
    `\nThen edit the manifests (${[...lab.manifests.keys()].join(', ')}) and run \`kpath lab check\` in ${where}/ ` +
      'until it passes. Stuck? `kpath lab hint`.\n',
  );
  return EXIT.OK;
}

async function check(args: LabArgs, io: CliIO): Promise<number> {
  const dir = labDir(args, io);
  const progress = readProgress(dir);
  const lab = loadLab(progress.lab);
  const report = await runChecks(lab, dir);
  if ('invalid' in report) {
    if (args.output === 'json')
      io.out(`${JSON.stringify({ passed: false, checks: [], errors: report.invalid }, null, 2)}\n`);
    for (const e of report.invalid) io.err(`${e}\n`);
    const n = report.invalid.length;
    io.err(
      `${n} error${n === 1 ? '' : 's'} in the manifests; nothing was run (kpath validate -f . shows them too)\n`,
    );
    return EXIT.INVALID;
  }
  writeProgress(dir, {
    ...progress,
    checks: [...progress.checks, { at: new Date().toISOString(), passed: report.passed }],
  });
  if (args.output === 'json') {
    io.out(
      `${JSON.stringify({ passed: report.passed, checks: report.checks, events: report.events }, null, 2)}\n`,
    );
  } else {
    io.out(`kpath lab check: ${lab.spec.name} — ${lab.spec.title}\n`);
    for (const c of report.checks) io.out(`  ${c.passed ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}\n`);
    if (report.events.length) {
      io.out('\nWhat the cluster reported while the checks ran:\n');
      for (const e of report.events) io.out(`  ${e}\n`);
    }
    const failed = report.checks.filter((c) => !c.passed).length;
    io.out(
      report.passed
        ? `\nFixed: every check passes with real traffic (${report.checks.length} of ${report.checks.length}).\n`
        : `\nNot fixed yet: ${failed} of ${report.checks.length} check${report.checks.length === 1 ? '' : 's'} fail${failed === 1 ? 's' : ''}. Stuck? kpath lab hint\n`,
    );
  }
  return report.passed ? EXIT.OK : EXIT.FAILURE;
}

function hint(args: LabArgs, io: CliIO): number {
  const dir = labDir(args, io);
  const progress = readProgress(dir);
  const lab = loadLab(progress.lab);
  const hints = lab.spec.hints;
  const i = Math.min(progress.hintsShown, hints.length - 1);
  io.out(`Hint ${i + 1} of ${hints.length}: ${hints[i]}\n`);
  if (progress.hintsShown >= hints.length)
    io.out('That was the last hint. `kpath lab solve` applies the fix and shows it.\n');
  writeProgress(dir, { ...progress, hintsShown: Math.min(progress.hintsShown + 1, hints.length) });
  return EXIT.OK;
}

function safeName(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.'))
    throw new KpathError(
      ErrorCodes.INVALID,
      `solution.patch names "${name}": only files of the lab directory`,
    );
  return name;
}

function solve(args: LabArgs, io: CliIO): number {
  const dir = labDir(args, io);
  const progress = readProgress(dir);
  const lab = loadLab(progress.lab);
  const patch = parsePatch(lab.solution);
  const names = patch.flatMap((p) => [p.oldPath, p.newPath]).filter((n): n is string => n !== null);
  const current = new Map<string, string>();
  for (const n of names.map(safeName)) {
    const p = join(dir, n);
    if (existsSync(p)) current.set(n, readFileSync(p, 'utf8'));
  }
  let result: Map<string, string | null>;
  let replaced: string[] = [];
  try {
    result = applyPatch(current, patch);
  } catch (e) {
    if (!(e instanceof PatchConflict)) throw e;
    if (!args.force) {
      io.err(
        `kpath lab solve: ${e.message}, so the reference fix does not apply to your version.\n` +
          'Run it again with --force to replace your edits in that file with the fixed original, or ' +
          '`kpath lab reset` to start over.\n',
      );
      return EXIT.FAILURE;
    }
    result = applyPatch(lab.manifests, patch);
    replaced = [...result.keys()].filter((n) => current.get(n) !== lab.manifests.get(n));
  }
  for (const [n, text] of result) {
    const p = join(dir, n);
    if (text === null) rmSync(p, { force: true });
    else writeFileSync(p, text);
  }
  io.out(lab.solution.endsWith('\n') ? lab.solution : `${lab.solution}\n`);
  if (replaced.length)
    io.out(`\n(your edits to ${replaced.join(', ')} were replaced by the lab's original with this fix)\n`);
  io.out(
    `\nApplied the reference fix ${shown(dir, io) === '.' ? 'here' : `in ${shown(dir, io)}`}. \`kpath lab check\` shows that real traffic works now.\n`,
  );
  return EXIT.OK;
}

function reset(args: LabArgs, io: CliIO): number {
  const dir = labDir(args, io);
  const progress = readProgress(dir);
  const lab = loadLab(progress.lab);
  writeLabFiles(lab, dir);
  writeProgress(dir, freshProgress(lab.spec.name));
  io.out(
    `Lab ${lab.spec.name} in ${shown(dir, io)}/ is back to its broken start (${[...lab.manifests.keys()].join(', ')}, ${TASK_FILE}); hints and checks cleared.\n`,
  );
  return EXIT.OK;
}
