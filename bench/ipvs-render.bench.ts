/**
 * kube-proxy ipvs-mode rendering at scale: 10,000 ClusterIP services x 5 endpoints on one node (the
 * iptables-render fixture): the virtual servers, ipsets and the constant iptables payload of a full
 * sync, beside the iptables-mode full render of the same cluster.
 *
 *   npx vitest bench --run bench/ipvs-render.bench.ts
 */
import { bench, describe } from 'vitest';
import { renderNode } from '../proxy/iptables/index.js';
import { renderIpvsNode } from '../proxy/ipvs/index.js';
import { clusterOf, NODE } from './iptables-render-fixture.js';

const snap = clusterOf(10_000, 5);
let t = performance.now();
const r = renderIpvsNode(snap, NODE);
console.log(
  `ipvs full render, cold: ${(performance.now() - t).toFixed(0)} ms; ${r.services.length} virtual servers, ` +
    `${r.state.sets.get('KUBE-CLUSTER-IP')?.length ?? 0} KUBE-CLUSTER-IP members, ipset restore ${r.ipsetRestore.length} bytes, ` +
    `iptables payload ${r.rules.restore.split('\n').length - 1} lines`,
);
t = performance.now();
renderNode(snap, NODE);
console.log(`iptables full render of the same cluster, cold: ${(performance.now() - t).toFixed(0)} ms`);

describe('full sync, 10,000 services x 5 endpoints', () => {
  bench('ipvs mode (renderIpvsNode)', () => {
    renderIpvsNode(snap, NODE);
  });
  bench('iptables mode (renderNode)', () => {
    renderNode(snap, NODE);
  });
});
