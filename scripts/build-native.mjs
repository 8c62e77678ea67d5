// Builds kpath's optional native fast paths (native/, Linux only) with node-gyp.
//
// kpath works without them (plain node:dgram / node:net), so a machine without a C compiler still
// gets a working install: the failure is reported and the script exits 0. Set
// KPATH_REQUIRE_NATIVE=1 (CI does) to make a failed build fail the install instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const required = process.env.KPATH_REQUIRE_NATIVE === '1';

function giveUp(why) {
  const msg = `kpath: native fast paths not built (${why}); falling back to node:dgram and node:net.`;
  if (required) {
    console.error(`${msg}\nKPATH_REQUIRE_NATIVE=1 is set, so this fails the build.`);
    process.exit(1);
  }
  console.warn(
    `${msg}\nInstall python3, make and a C compiler, then run \`npm run build:native\` to build them.`,
  );
  process.exit(0);
}

if (process.platform !== 'linux') giveUp(`${process.platform} is not Linux`);
if (process.env.KPATH_NATIVE === '0') giveUp('KPATH_NATIVE=0');

// npm puts its bundled node-gyp on PATH for scripts and names it in npm_config_node_gyp.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp && existsSync(gyp) ? [process.execPath, [gyp]] : ['node-gyp', []];
const r = spawnSync(cmd, [...args, 'rebuild', '--directory', join(root, 'native')], {
  stdio: ['ignore', 'inherit', 'inherit'],
});
if (r.error) giveUp(`node-gyp: ${r.error.message}`);
if (r.status !== 0) giveUp(`node-gyp exited with ${r.status}`);
