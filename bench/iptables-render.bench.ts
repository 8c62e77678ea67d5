/**
 * kube-proxy iptables rendering at scale: 10,000 ClusterIP services x 5 endpoints (50,000 endpoints,
 * large-cluster mode) on one node: a full render, and a partial sync after one service's endpoints
 * changed.
 *
 *   npx vitest bench --run bench/iptables-render.bench.ts
 *
 * Targets: full render < 1 s, partial sync of one changed service < 10 ms. The snapshots are built
 * from objects (bench/iptables-render-fixture.ts; the same objects the YAML would give) and are not
 * measured. Printed before the table: the cold first render, payload sizes, and memory (heapUsed and
 * RSS after a forced GC) for the cluster and for the retained render state.
 */
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { bench, describe } from 'vitest';
import { clearChainNameCache, renderNode, renderPartialSync } from '../proxy/iptables/index.js';
import { clusterOf, NODE } from './iptables-render-fixture.js';

const SERVICES = 10_000;
const ENDPOINTS = 5;
const CHANGED = 4242;
const HINT = { changedServices: [`default/svc-${CHANGED}`] };

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mem = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
};
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

const m0 = mem();
let t = performance.now();
const prev = clusterOf(SERVICES, ENDPOINTS);
const next = clusterOf(SERVICES, ENDPOINTS, CHANGED);
const tBuild = performance.now() - t;
const m1 = mem();
t = performance.now();
const full = renderNode(prev, NODE);
const tFull = performance.now() - t;
const m2 = mem();
t = performance.now();
const partial = renderPartialSync(prev, next, NODE, full.state, HINT);
const tPartial = performance.now() - t;
const lines = (s: string) => {
  let n = 0;
  for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) n++;
  return n;
};

console.log(
  [
    `machine: node ${process.version}, ${process.platform}/${process.arch}`,
    `snapshots: 2 x ${SERVICES} services x ${ENDPOINTS} endpoints built from objects in ${tBuild.toFixed(0)} ms (setup, not measured)`,
    `full render, cold (first in process: JIT and chain-name cache empty): ${tFull.toFixed(0)} ms`,
    `  payload ${mib(full.restore.length)} (${full.restore.length} bytes), ${lines(full.restore)} lines, largeClusterMode=${full.largeClusterMode}`,
    `partial sync, cold (1 service changed, hinted): ${tPartial.toFixed(1)} ms, payload ${mib(partial.restore.length)}, updated ${partial.updatedServices.join(',')}, deleted ${partial.deletedChains.length} chain(s)`,
    `memory, cluster (2 snapshots): heapUsed +${mib(m1.heap - m0.heap)}, rss +${mib(m1.rss - m0.rss)}`,
    `memory, one full render retained (payload + SyncState + name cache): heapUsed +${mib(m2.heap - m1.heap)}, rss +${mib(m2.rss - m1.rss)}`,
    `memory, process after both: heapUsed ${mib(m2.heap)}, rss ${mib(m2.rss)}`,
  ].join('\n'),
);

describe(`iptables render, ${SERVICES} services x ${ENDPOINTS} endpoints`, () => {
  bench(
    'full render (renderNode)',
    () => {
      renderNode(prev, NODE);
    },
    { iterations: 20, warmupIterations: 2 },
  );

  bench(
    'full render, chain-name cache cleared first',
    () => {
      clearChainNameCache();
      renderNode(prev, NODE);
    },
    { iterations: 10, warmupIterations: 1 },
  );

  bench(
    'partial sync, one service changed (hinted)',
    () => {
      renderPartialSync(prev, next, NODE, full.state, HINT);
    },
    { iterations: 100, warmupIterations: 10 },
  );

  bench(
    'partial sync, no hint (recompute and compare every service)',
    () => {
      renderPartialSync(prev, next, NODE, full.state);
    },
    { iterations: 5, warmupIterations: 1 },
  );
});
