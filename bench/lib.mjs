// Shared by the benchmark scripts: command-line options and compiling kpath into a scratch folder.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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
  if (dist) return checkedDist(resolve(dist));
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

/**
 * A --dist build, refused when kpath run from it would not find the native addon: proxy/native/load.ts
 * looks for native/build/Release/kpath_native.node from its own folder upwards, stopping at a
 * package.json, and without it kpath quietly runs Node's sockets and relay, which is then what the
 * bench measures instead of the build asked for.
 */
function checkedDist(distDir) {
  let dir = join(distDir, 'proxy', 'native');
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'native', 'build', 'Release', 'kpath_native.node'))) return distDir;
    if (existsSync(join(dir, 'package.json'))) break;
    dir = dirname(dir);
  }
  throw new Error(
    `--dist ${distDir}: kpath run from there finds no native addon (native/build/Release/kpath_native.node ` +
      `in a folder above its proxy/native/, before a package.json), so it would run Node's slower sockets ` +
      `and relay. Make a complete build of another revision with bench/base-build.sh REV DIR (then --dist DIR/dist), ` +
      `build the addon (npm run build:native in that checkout) or link this repo's: ` +
      `mkdir -p ${dirname(distDir)}/native && ln -s ${join(REPO, 'native', 'build')} ${dirname(distDir)}/native/build`,
  );
}
