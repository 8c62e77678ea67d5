#!/usr/bin/env node
/**
 * Bytes allocated per proxied connection by the runtime's kernel work (IptablesMode.decide + closed,
 * the six walks of bench/proxy-decide.mjs on the same cluster), and where: V8's sampling heap
 * profiler with the objects the garbage collector already took counted in, after a warm-up with
 * ~30,000 TIME_WAIT entries in the tables. Allocation is what the young-generation collections that
 * show as "(garbage collector)" in the CPU profiles pay for.
 *
 *   npm run build && node bench/proxy-decide-alloc.mjs [--modes iptables,ipvs] [--n 20000] [--top 25] [--dist DIR]
 *
 * Prints, per mode, the bytes per connection and the functions that allocate them (self, inlined
 * callees included: V8 charges an inlined function's allocations to its caller).
 */
import { Session } from 'node:inspector/promises';
import { resolve } from 'node:path';
import { cliOptions, REPO } from './lib.mjs';
import { loadModeModules, modeHarness } from './proxy/cluster-head.mjs';

const { opt } = cliOptions();
const dist = resolve(opt('dist', `${REPO}/dist`));
const N = Number(opt('n', 20_000));
const top = Number(opt('top', 25));
const modes = opt('modes', 'iptables,ipvs').split(',');
const build = await loadModeModules(dist);

for (const mode of modes) {
  const h = modeHarness(build, mode);
  const one = () => {
    const d = h.one();
    if (d.kind !== 'forward') throw new Error(`${mode}: not forwarded: ${JSON.stringify(d)}`);
  };
  // Warm up past the first wrap of the client ports (TIME_WAIT entries reused, as in the real bench).
  for (let i = 0; i < 40_000; i++) one();
  const s = new Session();
  s.connect();
  await s.post('HeapProfiler.startSampling', {
    samplingInterval: 256,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  for (let i = 0; i < N; i++) one();
  const { profile } = await s.post('HeapProfiler.stopSampling');
  s.disconnect();
  const self = new Map();
  let total = 0;
  const walk = (n) => {
    const k = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
    total += n.selfSize;
    self.set(k, (self.get(k) ?? 0) + n.selfSize);
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  console.log(`${mode}: ~${Math.round(total / N)} bytes allocated per connection`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    if (v / N >= 1) console.log(`${String(Math.round(v / N)).padStart(7)} B  ${k}`);
}
