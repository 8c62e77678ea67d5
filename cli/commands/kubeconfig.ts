/** `kpath kubeconfig`: where `kpath up` wrote its kubeconfig; `--merge` adds the kpath context to ~/.kube/config. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { isKpathError } from '../../netmodel/errors.js';
import { CONTEXT_NAME, defaultKubeconfigPath, mergeKubeconfig } from '../../proxy/api/index.js';
import { type CliIO, EXIT } from '../io.js';

export const command = 'kubeconfig';
export const describe = "print the path of kpath up's kubeconfig; --merge adds its context to ~/.kube/config";

export function builder(y: Argv) {
  return y
    .option('kubeconfig', {
      type: 'string',
      description: 'the kubeconfig kpath up wrote (default ~/.kpath/kubeconfig)',
    })
    .option('merge', {
      type: 'boolean',
      default: false,
      description: `add the "${CONTEXT_NAME}" cluster, user and context to --into (current-context is set only if it has none)`,
    })
    .option('into', {
      type: 'string',
      description: 'the kubeconfig to merge into (default ~/.kube/config)',
    });
}

interface Args {
  kubeconfig?: string;
  merge: boolean;
  into?: string;
}

export async function run(args: Args, io: CliIO): Promise<number> {
  const from = resolve(io.cwd, args.kubeconfig ?? defaultKubeconfigPath());
  if (!args.merge) {
    io.out(`${from}\n`);
    return EXIT.OK;
  }
  const into = resolve(io.cwd, args.into ?? join(homedir(), '.kube', 'config'));
  try {
    mergeKubeconfig(from, into);
  } catch (e) {
    if (isKpathError(e)) {
      io.err(`error: ${e.message} [${e.code}]\n`);
      return EXIT.INVALID;
    }
    throw e;
  }
  io.err(
    `merged context "${CONTEXT_NAME}" into ${into}; use it with: kubectl --context ${CONTEXT_NAME} get pods\n`,
  );
  return EXIT.OK;
}
