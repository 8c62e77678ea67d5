/** `kpath validate -f PATH...`: check manifests as the apiserver would; exit 2 on any error. */
import type { Argv } from 'yargs';
import type { CliIO } from '../io.js';
import { EXIT } from '../io.js';
import { loadOrReport, withFiles, withNamespace } from './common.js';

export const command = 'validate';
export const describe =
  'check manifests as the apiserver would: every error with file:line:column, exit status 2';

export function builder(y: Argv) {
  return withNamespace(withFiles(y)).option('quiet', {
    alias: 'q',
    type: 'boolean',
    default: false,
    description: 'print nothing on success',
  });
}

export async function run(
  args: { f?: string[]; quiet?: boolean; namespace?: string },
  io: CliIO,
): Promise<number> {
  const snap = loadOrReport(args.f, io, args.namespace !== undefined ? { namespace: args.namespace } : {});
  if (typeof snap === 'number') return snap;
  if (!args.quiet) {
    io.out(
      `valid: ${snap.nodes.length} nodes, ${snap.pods.length} pods, ${snap.services.length} services, ${snap.endpointSlices.length} endpoint slices` +
        `${snap.networkPolicies.length ? `, ${snap.networkPolicies.length} network policies` : ''}` +
        `${snap.warnings.length ? ` (${snap.warnings.length} warning${snap.warnings.length === 1 ? '' : 's'})` : ''}\n`,
    );
  }
  return EXIT.OK;
}
