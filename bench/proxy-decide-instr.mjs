#!/usr/bin/env node
/**
 * Instructions per proxied connection of the runtime's kernel work (IptablesMode.decide + closed, the
 * six walks of bench/proxy-decide.mjs on the same cluster and harness), counted by valgrind: a figure
 * that other load on the machine does not move, where CPU time swings by 2x on a shared machine.
 *
 *   npm run build && node bench/proxy-decide-instr.mjs [--modes iptables,ipvs] [--dist dist,OTHER_DIST]
 *                                                      [--n 16000] [--warm 32000]
 *
 * Each (build, mode) runs twice under `valgrind --tool=cachegrind --cache-sim=no` (instruction counts
 * only), `node --single-threaded --expose-gc`: once for --warm connections (past the first wrap of
 * the client ports, ~30,000 TIME_WAIT entries in the tables as in the real bench) and once for --warm
 * + --n; a full collection ends each phase, so that where a major GC happens to fall does not decide
 * the count. The figure is the difference over --n: everything the process executes per connection,
 * garbage collection and the harness's loop included (the same for every build). Repeats agree
 * within ~2 %. Needs valgrind (Debian: `apt-get install -y valgrind`); takes minutes (valgrind runs
 * JavaScript ~50x slower), the two runs of a pair in parallel, at nice 19.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliOptions, REPO } from './lib.mjs';
import { loadModeModules, modeHarness } from './proxy/cluster-head.mjs';

const { opt } = cliOptions();

if (process.argv[2] === '--child') {
  // Under valgrind: warm + n connections of one build and mode, a full collection after each phase.
  const [, , , dist, mode, warm, n] = process.argv;
  const h = modeHarness(await loadModeModules(dist), mode);
  for (let i = 0; i < Number(warm); i++) h.one(i);
  globalThis.gc();
  for (let i = 0; i < Number(n); i++) h.one(i);
  globalThis.gc();
  process.exit(0);
}

const dists = opt('dist', `${REPO}/dist`)
  .split(',')
  .map((d) => resolve(d));
const modes = opt('modes', 'iptables,ipvs').split(',');
const N = Number(opt('n', 16_000));
const WARM = Number(opt('warm', 32_000));
const self = fileURLToPath(import.meta.url);

/** valgrind's instruction count (I refs) for one child run. */
function irefs(dist, mode, n) {
  return new Promise((done, fail) => {
    const args = [
      '-n',
      '19',
      'valgrind',
      '--tool=cachegrind',
      '--cache-sim=no',
      '--cachegrind-out-file=/dev/null',
      '--smc-check=all-non-file',
      process.execPath,
      '--single-threaded',
      '--expose-gc',
      self,
      '--child',
      dist,
      mode,
      String(WARM),
      String(n),
    ];
    const c = spawn('nice', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => {
      err += d;
    });
    c.on('error', fail);
    c.on('close', (code) => {
      const m = /I\s+refs:\s+([\d,]+)/.exec(err);
      if (code !== 0 || !m)
        fail(new Error(`valgrind (${dist} ${mode}) exited ${code}:\n${err.slice(-2000)}`));
      else done(Number(m[1].replaceAll(',', '')));
    });
  });
}

for (const mode of modes) {
  for (const dist of dists) {
    const [a, b] = await Promise.all([irefs(dist, mode, 0), irefs(dist, mode, N)]);
    console.log(
      `${mode} (${dist}): ${Math.round((b - a) / N)} instructions/connection (I refs ${a} -> ${b}, n ${N})`,
    );
  }
}
