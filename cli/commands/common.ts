/** Options and helpers shared by commands. */
import type { Argv } from 'yargs';
import { type ClusterSnapshot, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { loadCluster } from '../../proxy/manifest-files.js';
import { type CliIO, EXIT } from '../io.js';

export function withFiles<T>(y: Argv<T>) {
  return y.option('f', {
    alias: 'filename',
    type: 'string',
    array: true,
    description: 'manifest file or directory (repeatable); default: the bundled example cluster',
  });
}

/** `-n NS`: as `kubectl apply -n`, the namespace of objects that give none; a different one is an error. */
export function withNamespace<T>(y: Argv<T>) {
  return y.option('namespace', {
    alias: 'n',
    type: 'string',
    description:
      'namespace for objects that name none (as kubectl apply -n); objects naming another are an error',
  });
}

/** Build the cluster; on errors print them all and return the exit status instead. */
export function loadOrReport(
  files: readonly string[] | undefined,
  io: CliIO,
  opts: { namespace?: string } = {},
): ClusterSnapshot | number {
  const r = loadCluster(files ?? [], io.cwd, 1, opts);
  for (const d of r.diagnostics) io.err(`${formatDiagnostic(d)}\n`);
  if (!r.ok) {
    const n = r.diagnostics.filter((d) => d.severity === 'error').length;
    io.err(`${n} error${n === 1 ? '' : 's'}; nothing was loaded\n`);
    return EXIT.INVALID;
  }
  return r.snapshot;
}
