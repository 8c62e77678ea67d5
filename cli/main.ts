/**
 * The CLI: `main(argv, io)` parses with yargs, runs one command and returns its exit status.
 * Only bin.ts exits the process, so tests call main directly.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs, { type Argv } from 'yargs';
import { ErrorCodes, isKpathError } from '../netmodel/errors.js';
import * as affinityCmd from './commands/affinity.js';
import * as cniCmd from './commands/cni.js';
import * as conntrackCmd from './commands/conntrack.js';
import * as dnsCmd from './commands/dns.js';
import * as dockerCmd from './commands/docker.js';
import * as endpointsCmd from './commands/endpoints.js';
import * as getCmd from './commands/get.js';
import * as netCmd from './commands/net.js';
import * as rulesCmd from './commands/rules.js';
import * as traceCmd from './commands/trace.js';
import * as upCmd from './commands/up.js';
import * as validateCmd from './commands/validate.js';
import { type CliIO, EXIT } from './io.js';

interface CommandModule {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<unknown>;
  run: (args: never, io: CliIO) => Promise<number>;
}

const COMMANDS: readonly CommandModule[] = [
  getCmd,
  validateCmd,
  rulesCmd,
  traceCmd,
  upCmd,
  dnsCmd,
  conntrackCmd,
  affinityCmd,
  endpointsCmd,
  netCmd,
  cniCmd,
  dockerCmd,
] as unknown as CommandModule[];

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

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  let selected: (() => Promise<number>) | undefined;
  const y = yargs([...argv])
    .scriptName('kpath')
    .usage('$0 <command> [options]\n\nA userspace Kubernetes service proxy and packet-path emulator.')
    .exitProcess(false)
    .strict()
    .demandCommand(1, 'name a command (see --help)')
    .version(version())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 110));
  for (const c of COMMANDS) {
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
    io.err(`${output ? `${output}\n\n` : ''}error: ${parseError.message}\n`);
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
