/**
 * `kpath cni`: a CNI plugin (spec 1.1.0) against kpath's emulated node state. Run it as containerd
 * or a tester would run a plugin binary:
 *
 *   echo '{"cniVersion":"1.1.0","name":"cbr0","type":"bridge","bridge":"cni0","isGateway":true,
 *          "ipam":{"type":"host-local","ranges":[[{"subnet":"10.244.1.0/24"}]]}}' |
 *     CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/c1 CNI_IFNAME=eth0 kpath cni
 *
 * The result (or the error, with the spec's code) goes to stdout; the allocations persist in
 * --state between invocations, as host-local's files do, with the nat table the bridge plugin's
 * ipMasq and the portmap plugin (`"type": "portmap"`, chained with prevResult) write: `kpath cni
 * --iptables-save` prints it as `iptables-save -t nat` does.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { type CniState, emptyCniState, invokeCni, natSave } from '../../cni/spec/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { CliIO } from '../io.js';

export const command = 'cni';
export const describe =
  'a CNI plugin (spec 1.1.0: CNI_COMMAND ADD/DEL/CHECK/GC/VERSION/STATUS, config on stdin): bridge + host-local (with ipMasq) or portmap (hostPort), against the emulated node state';

export function builder(y: Argv) {
  return y
    .option('state', {
      type: 'string',
      description:
        'where the allocations and the nat table persist between calls (default: $TMPDIR/kpath-cni/state.json)',
    })
    .option('iptables-save', {
      type: 'boolean',
      default: false,
      description:
        "print the state's nat table as iptables-save -t nat does (the ipMasq and portmap chains), instead of running a command",
    });
}

interface CniArgs {
  state?: string;
  iptablesSave?: boolean;
}

/** The invocation's environment and stdin; tests pass their own. */
export interface CniIO {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: () => string;
}

const processIO: CniIO = {
  env: process.env,
  stdin: () => {
    if (process.stdin.isTTY) return '';
    try {
      return readFileSync(0, 'utf8');
    } catch {
      return '';
    }
  },
};

export async function run(args: CniArgs, io: CliIO, cio: CniIO = processIO): Promise<number> {
  const file = args.state ? resolve(io.cwd, args.state) : join(tmpdir(), 'kpath-cni', 'state.json');
  let state: CniState = emptyCniState();
  try {
    state = JSON.parse(readFileSync(file, 'utf8')) as CniState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new KpathError(
        ErrorCodes.USAGE,
        `--state ${file}: not a kpath cni state file (${(e as Error).message})`,
      );
  }
  if (args.iptablesSave) {
    io.out(natSave(state.nat));
    return 0;
  }
  const r = invokeCni({ env: cio.env, stdin: cio.stdin(), state });
  io.out(r.stdout);
  if (r.exit === 0) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(r.state)}\n`);
  }
  return r.exit;
}
