/**
 * kube-proxy iptables rendering at scale: 10,000 ClusterIP services x 5 endpoints (50,000 endpoints,
 * large-cluster mode), a full render, and a partial sync after one service's endpoints changed.
 *
 *   npx vitest bench --run bench/iptables-render.bench.ts
 *
 * Targets: full render < 1 s, partial sync of one changed service < 10 ms. One-off timings, payload
 * sizes and heap use are printed before the benchmarks run.
 */
import { bench, describe } from 'vitest';
import { buildCluster, type ClusterSnapshot } from '../netmodel/cluster/index.js';
import { renderNode, renderPartialSync } from '../proxy/iptables/index.js';

const SERVICES = 10_000;
const ENDPOINTS = 5;
const NODE = 'node-1';

function yaml(changed: number | undefined): string {
  const docs: string[] = [
    'apiVersion: kpath.dev/v1alpha1\nkind: Cluster\nmetadata: {name: bench}\nspec: {podCIDR: 10.0.0.0/8, serviceCIDR: 172.16.0.0/12, nodeCIDR: 192.168.0.0/24}',
    `apiVersion: v1\nkind: Node\nmetadata: {name: ${NODE}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.11}]}`,
  ];
  for (let i = 0; i < SERVICES; i++) {
    const ip = `172.16.${(i >> 8) + 1}.${i & 255}`;
    docs.push(
      `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}, namespace: default}\nspec: {clusterIP: ${ip}, ports: [{name: http, port: 80}]}`,
    );
    const eps: string[] = [];
    for (let e = 0; e < ENDPOINTS; e++) {
      const n = i * ENDPOINTS + e + (i === changed && e === 0 ? 7_000_000 : 0);
      eps.push(`{addresses: [10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}], nodeName: node-${e}}`);
    }
    docs.push(
      `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: svc-${i}-1, namespace: default, labels: {kubernetes.io/service-name: svc-${i}}}\naddressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints: [${eps.join(', ')}]`,
    );
  }
  return docs.join('\n---\n');
}

function snapshot(changed?: number): ClusterSnapshot {
  const r = buildCluster([{ file: 'bench.yaml', text: yaml(changed) }]);
  if (!r.ok)
    throw new Error(
      r.diagnostics
        .map((d) => d.message)
        .slice(0, 5)
        .join('\n'),
    );
  return r.snapshot;
}

const t0 = performance.now();
const prev = snapshot();
const next = snapshot(4242);
const tBuild = performance.now() - t0;

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
globalThis.gc?.();
const heap0 = process.memoryUsage().heapUsed;
let t = performance.now();
const full = renderNode(prev, NODE);
const tFull = performance.now() - t;
const heap1 = process.memoryUsage().heapUsed;
t = performance.now();
const partial = renderPartialSync(prev, next, NODE, full.state, { changedServices: ['default/svc-4242'] });
const tPartial = performance.now() - t;

console.log(
  [
    `snapshots: 2 x ${SERVICES} services x ${ENDPOINTS} endpoints built in ${(tBuild / 1000).toFixed(1)} s (setup, not measured)`,
    `full render (cold): ${tFull.toFixed(0)} ms, payload ${mb(full.restore.length)}, ${full.restore.split('\n').length} lines, largeClusterMode=${full.largeClusterMode}`,
    `heap after full render: +${mb(heap1 - heap0)} (payload + retained SyncState), rss ${mb(process.memoryUsage().rss)}`,
    `partial sync (cold, 1 service changed): ${tPartial.toFixed(1)} ms, payload ${mb(partial.restore.length)}, updated ${partial.updatedServices.join(',')}, deleted ${partial.deletedChains.length} chain(s)`,
  ].join('\n'),
);

describe('iptables render, 10,000 services x 5 endpoints', () => {
  bench(
    'full render (renderNode)',
    () => {
      renderNode(prev, NODE);
    },
    { iterations: 5, warmupIterations: 1 },
  );

  bench(
    'partial sync, one service changed (hinted)',
    () => {
      renderPartialSync(prev, next, NODE, full.state, { changedServices: ['default/svc-4242'] });
    },
    { iterations: 50, warmupIterations: 5 },
  );

  bench(
    'partial sync, no hint (recompute and compare every service)',
    () => {
      renderPartialSync(prev, next, NODE, full.state);
    },
    { iterations: 5, warmupIterations: 1 },
  );
});
