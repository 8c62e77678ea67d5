#!/usr/bin/env node
/**
 * What the per-connection tables keep on the heap: the runtime's kernel work for N proxied TCP
 * connections (IptablesMode.decide + closed, as bench/proxy-decide.mjs does) with the clock moving
 * 4 ms per connection, so all N stay in TIME_WAIT (conntrack 120 s; IPVS TIME_WAIT too) when
 * N <= 30,000. Prints heap bytes and heap objects per connection left in the tables, measured as
 * the difference between two heap states after a full GC.
 *
 *   npm run build && node --expose-gc bench/conntrack-heap.mjs [--n 30000] [--modes iptables,ipvs]
 *                                                               [--dist dist] [--objects]
 *                                                               [--clock-start ms]
 *
 * --objects: also count objects (a heap snapshot before and after; slower, use N of a few thousand).
 * --steady M: then run M more connections in the steady state (~30,000 in TIME_WAIT, the tables'
 *   gc every 2 s of clock as the runtime's housekeeping does) and print the garbage collector's
 *   time and collections per connection (perf_hooks 'gc' entries) beside the CPU time.
 * --time-wait S: conntrack's and IPVS's TIME_WAIT timeout, seconds (default the kernels' 120): with
 *   1, closed connections leave the tables at once, which bounds what any smaller representation
 *   of TIME_WAIT entries could still save.
 */
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { cliOptions, REPO } from './lib.mjs';
import { loadModeModules, modeHarness } from './proxy/cluster-head.mjs';

const { opt, flag } = cliOptions();
const dist = resolve(opt('dist', `${REPO}/dist`));
const N = Number(opt('n', 30_000));
const modes = opt('modes', 'iptables,ipvs').split(',');
const objects = flag('objects');
const steady = Number(opt('steady', 0));
const timeWait = opt('time-wait', undefined);
// The runtime's clock is Date.now(): times are not small integers (V8 keeps them as heap numbers).
const clockStart = Number(opt('clock-start', 1_764_900_000_000));
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

// One mode per process: a harness measured earlier in the same process can still be reachable
// when the next one takes its first heap state, and would be subtracted from it.
if (modes.length > 1) {
  const { execFileSync } = await import('node:child_process');
  const args = process.argv.slice(2);
  const i = args.indexOf('--modes');
  if (i >= 0) args.splice(i, 2);
  for (const m of modes) {
    execFileSync(process.execPath, [...process.execArgv, process.argv[1], ...args, '--modes', m], {
      stdio: 'inherit',
    });
  }
  process.exit(0);
}

const build = await loadModeModules(dist);

/** Node counts of a heap snapshot (the snapshot's own JSON, summed without keeping it). */
function snapshotObjects() {
  const chunks = [];
  const s = v8.getHeapSnapshot();
  return new Promise((res) => {
    s.on('data', (c) => chunks.push(c));
    s.on('end', () => {
      const snap = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const fields = snap.snapshot.meta.node_fields;
      const types = snap.snapshot.meta.node_types[0];
      const typeAt = fields.indexOf('type');
      const nameAt = fields.indexOf('name');
      const counts = new Map();
      for (let i = 0; i < snap.nodes.length; i += fields.length) {
        let t = types[snap.nodes[i + typeAt]];
        if (t === 'object' || t === 'array') t = `${t} ${snap.strings[snap.nodes[i + nameAt]]}`;
        counts.set(t, (counts.get(t) ?? 0) + 1);
      }
      res(counts);
    });
  });
}

for (const mode of modes) {
  const h = modeHarness(build, mode, { clockStart });
  // The housekeeping runs only in the steady phase, from its own start (below).
  h.housekeeping = false;
  const { m, clock } = h;
  if (timeWait !== undefined) {
    const node = m.dp.node('node-a');
    node.conntrack.setSysctls({ nf_conntrack_tcp_timeout_time_wait: Number(timeWait) });
    if (node.ipvs) node.ipvs.tcpTimeouts.TIME_WAIT = Number(timeWait);
  }
  const one = () => {
    const d = h.one();
    if (d.kind !== 'forward') throw new Error(`connection not forwarded: ${JSON.stringify(d)}`);
  };
  // Warm up (code, caches, the flow cache's plans), then let every warm-up entry time out.
  for (let i = 0; i < 2000; i++) one();
  clock.advance(600_000);
  m.housekeeping(clock.now());
  one();
  globalThis.gc();
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  const objBefore = objects ? await snapshotObjects() : undefined;
  for (let i = 0; i < N; i++) one();
  globalThis.gc();
  globalThis.gc();
  const after = process.memoryUsage().heapUsed;
  let line = `${mode}: ${N} connections in TIME_WAIT: ${((after - before) / N).toFixed(0)} heap bytes/connection`;
  if (objBefore) {
    const objAfter = await snapshotObjects();
    let total = 0;
    const parts = [];
    for (const [t, n] of objAfter) {
      const d = n - (objBefore.get(t) ?? 0);
      total += d;
      if (Math.abs(d) >= N / 10) parts.push(`${t} ${(d / N).toFixed(2)}`);
    }
    line += `; ${(total / N).toFixed(2)} heap objects/connection (${parts.join(', ')})`;
  }
  console.log(line);
  if (steady > 0) {
    const gcs = { minor: 0, major: 0, ms: 0 };
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        gcs.ms += e.duration;
        // detail.kind: 1 scavenge (minor), 2 mark-compact (major), 4 incremental marking, 8 weak callbacks.
        if (e.detail?.kind === 1) gcs.minor++;
        else gcs.major++;
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    let lastGc = clock.now();
    const c0 = process.cpuUsage();
    for (let i = 0; i < steady; i++) {
      one();
      if (clock.now() - lastGc >= 2000) {
        m.housekeeping(clock.now());
        lastGc = clock.now();
      }
    }
    const c = process.cpuUsage(c0);
    await new Promise((r) => setTimeout(r, 50));
    obs.disconnect();
    console.log(
      `${mode}: steady state, ${steady} connections: ${((c.user + c.system) / steady).toFixed(2)} CPU us/connection, GC ${((gcs.ms * 1000) / steady).toFixed(2)} us/connection (${gcs.minor} scavenges, ${gcs.major} other collections)`,
    );
  }
}
