/**
 * The CLI: `main(argv, io)` parses with yargs, runs one command and returns its exit status.
 * Only bin.ts exits the process, so tests call main directly.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { ErrorCodes, isKpathError } from '../netmodel/errors.js';
import { type CliIO, EXIT } from './io.js';

interface CommandModule {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<unknown>;
  run: (args: never, io: CliIO) => Promise<number>;
}

/**
 * Every command by name, imported only when it is the one that runs (all of them for --help and
 * completion): `kpath get` does not pay for loading the proxy runtime. One line per command.
 */
const COMMANDS: Readonly<Record<string, () => Promise<unknown>>> = {
  demo: () => import('./commands/demo.js'),
  get: () => import('./commands/get.js'),
  validate: () => import('./commands/validate.js'),
  rules: () => import('./commands/rules.js'),
  trace: () => import('./commands/trace.js'),
  up: () => import('./commands/up.js'),
  dns: () => import('./commands/dns.js'),
  conntrack: () => import('./commands/conntrack.js'),
  affinity: () => import('./commands/affinity.js'),
  endpoints: () => import('./commands/endpoints.js'),
  curl: () => import('./commands/curl.js'),
  completion: () => import('./commands/completion.js'),
  policy: () => import('./commands/policy.js'),
  ipset: () => import('./commands/ipset.js'),
  ipvs: () => import('./commands/ipvs.js'),
  net: () => import('./commands/net.js'),
  cni: () => import('./commands/cni.js'),
  kubeconfig: () => import('./commands/kubeconfig.js'),
  docker: () => import('./commands/docker.js'),
  lab: () => import('./commands/lab.js'),
};

/** The modules this command line needs: the named command's, or all of them. */
async function loadCommands(argv: readonly string[]): Promise<CommandModule[]> {
  const first = argv.find((a) => !a.startsWith('-'));
  const one =
    first !== undefined && Object.hasOwn(COMMANDS, first) && !argv.includes('--get-yargs-completions');
  const names = one ? [first] : Object.keys(COMMANDS);
  return (await Promise.all(names.map((n) => COMMANDS[n]!()))) as CommandModule[];
}

export function version(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [resolve(here, '../package.json'), resolve(here, '../../package.json')]) {
    try {
      return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
    } catch {
      // next
    }
  }
  return 'unknown';
}

/** The one line a usage error ends with: the command's synopsis and where its help is. */
function usageLine(commands: readonly CommandModule[], argv: readonly string[]): string {
  const c = commands.find((m) => m.command.split(' ')[0] === argv.find((a) => !a.startsWith('-')));
  return c
    ? `usage: kpath ${c.command} [options]  (see 'kpath ${c.command.split(' ')[0]} --help' for more)`
    : `usage: kpath <command> [options]  (see 'kpath --help' for the commands)`;
}

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  let selected: (() => Promise<number>) | undefined;
  const commands = await loadCommands(argv);
  // The completion candidates (lab names, resource types) only when completions are asked for: the
  // lab catalogue and the get tables cost every other command ~10 MiB and their load time.
  const completeWords = argv.includes('--get-yargs-completions')
    ? (await import('./commands/complete-words.js')).completeWords
    : undefined;
  const y = yargs([...argv])
    .scriptName('kpath')
    .usage('$0 <command> [options]\n\nA userspace Kubernetes service proxy and packet-path emulator.')
    .exitProcess(false)
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .version(version())
    .help()
    .alias('h', 'help')
    // Answers `kpath --get-yargs-completions WORDS...` for the scripts of `kpath completion`.
    .completion('__completion', false, completeWords)
    .wrap(Math.min(110, process.stdout.columns || 110));
  for (const c of commands) {
    y.command(c.command, c.describe, c.builder as (y: Argv) => Argv, (args) => {
      selected = () => c.run(args as never, io);
    });
  }
  let parseError: Error | undefined;
  let output = '';
  y.parse([...argv], {}, (err, _args, out) => {
    parseError = err ?? undefined;
    output = out ?? '';
  });
  if (parseError) {
    io.err(`error: ${parseError.message}\n${usageLine(commands, argv)}\n`);
    return EXIT.INVALID;
  }
  if (output) io.out(`${output}\n`);
  if (!selected) return EXIT.OK;
  try {
    return await selected();
  } catch (e) {
    if (isKpathError(e)) {
      io.err(`error: ${e.message} [${e.code}]\n`);
      // Wrong input (a flag, a manifest) is 2, as for validation errors; anything else is 1.
      return e.code === ErrorCodes.USAGE || e.code === ErrorCodes.INVALID ? EXIT.INVALID : EXIT.FAILURE;
    }
    throw e;
  }
}
