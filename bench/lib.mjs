// Shared by the benchmark scripts: command-line options and compiling kpath into a scratch folder.
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `--name value` and `--flag` options of this process. */
export function cliOptions(argv = process.argv.slice(2)) {
  const opt = (name, def) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : def;
  };
  const flag = (name) => argv.includes(`--${name}`);
  return { opt, flag };
}

/**
 * The kpath build to benchmark: `dist` when given, else a fresh `tsc -p tsconfig.build.json` into
 * `work/dist` (so the repository's dist/ is not touched), with `work` set up to resolve the
 * repository's node_modules as ESM.
 */
export function kpathDist(work, dist, log) {
  if (dist) return resolve(dist);
  const distDir = join(work, 'dist');
  log('compiling kpath (tsc -p tsconfig.build.json) into', distDir);
  const tsc = spawnSync(
    join(REPO, 'node_modules/.bin/tsc'),
    [
      '-p',
      join(REPO, 'tsconfig.build.json'),
      '--outDir',
      distDir,
      '--declaration',
      'false',
      '--declarationMap',
      'false',
      '--sourceMap',
      'false',
    ],
    { cwd: REPO, encoding: 'utf8' },
  );
  if (tsc.status !== 0) {
    log(
      `tsc exited ${tsc.status} (emitting anyway):\n${(tsc.stdout + tsc.stderr).split('\n').slice(0, 10).join('\n')}`,
    );
  }
  // ESM + bare imports (pino, yaml, ...) resolve through these.
  writeFileSync(join(work, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(REPO, 'node_modules'), join(work, 'node_modules'));
  // The native fast paths, as built by `npm run build:native` (absent: kpath falls back to Node's).
  mkdirSync(join(work, 'native'), { recursive: true });
  symlinkSync(join(REPO, 'native', 'build'), join(work, 'native', 'build'));
  return distDir;
}
