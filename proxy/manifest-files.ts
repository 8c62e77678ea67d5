/**
 * Reading manifests from disk: `-f PATH` may be a file of one or more YAML documents or a directory
 * (its *.yaml, *.yml and *.json files, sorted by name, not recursive, as `kubectl apply -f DIR`).
 * Pure model building happens in netmodel; this is the I/O half.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type BuildOptions,
  type BuildResult,
  buildCluster,
  type ManifestSource,
} from '../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** `kpath lab`'s progress file in a lab directory: JSON, but not a manifest (`-f .` skips it). */
export const LAB_PROGRESS_FILE = '.kpath-lab.json';

/** The bundled example cluster, used when no -f is given. */
export function exampleClusterPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // Works from the sources (proxy/) and from the build (dist/proxy/).
  for (const candidate of [resolve(here, '../examples/demo'), resolve(here, '../../examples/demo')]) {
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // try the next one
    }
  }
  throw new KpathError(
    ErrorCodes.NOT_FOUND,
    'the bundled example cluster (examples/demo) is missing from this installation; pass -f PATH',
  );
}

/** Expand the paths into files, reading each. Errors name the path and what to do. */
export function readManifestSources(paths: readonly string[], cwd = process.cwd()): ManifestSource[] {
  const out: ManifestSource[] = [];
  for (const p of paths) {
    const abs = resolve(cwd, p);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new KpathError(
        ErrorCodes.MANIFEST,
        code === 'ENOENT'
          ? `${p}: no such file or directory (check the -f path)`
          : `${p}: cannot read (${code ?? String(e)})`,
        { cause: e },
      );
    }
    const files = st.isDirectory()
      ? readdirSync(abs)
          .filter((f) => MANIFEST_EXT.test(f) && f !== LAB_PROGRESS_FILE)
          .sort()
          .map((f) => ({ abs: join(abs, f), shown: join(p, f) }))
      : [{ abs, shown: p }];
    if (st.isDirectory() && files.length === 0) {
      throw new KpathError(ErrorCodes.MANIFEST, `${p}: the directory holds no .yaml, .yml or .json files`);
    }
    for (const f of files) {
      try {
        out.push({ file: f.shown, text: readFileSync(f.abs, 'utf8') });
      } catch (e) {
        throw new KpathError(
          ErrorCodes.MANIFEST,
          `${f.shown}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
          { cause: e },
        );
      }
    }
  }
  return out;
}

/**
 * Read and build; with no paths, the bundled example. `previous` (the snapshot being replaced) keeps
 * running pods where they are; `namespace` is `-n NS`.
 */
export function loadCluster(
  paths: readonly string[],
  cwd = process.cwd(),
  version = 1,
  opts: Omit<BuildOptions, 'version'> = {},
): BuildResult {
  const list = paths.length ? paths : [exampleClusterPath()];
  return buildCluster(readManifestSources(list, cwd), { ...opts, version });
}
