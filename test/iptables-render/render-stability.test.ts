/**
 * Output stability guard for the renderer's performance work: a seeded, varied mid-size cluster
 * (every service type, both traffic policies, affinity, source ranges, external IPs, multi-port and
 * UDP/SCTP services, local/remote/terminating/duplicate endpoints, headless, no endpoints, dual-stack)
 * rendered full and partial under several option sets. The expected digests were computed with the
 * renderer before it was optimised; any byte of difference in any payload, chain list or state fails.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clusterOf, clusterViaYaml, NODE } from '../../bench/iptables-render-fixture.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { type RenderOptions, renderNode, renderPartialSync } from '../../proxy/iptables/index.js';
import {
  cluster,
  kpCluster,
  kubeProxy,
  namespaces,
  service,
  slice,
  TEST_NODE,
  UPSTREAM_OPTS,
} from './helpers.js';

type Obj = Record<string, unknown>;

/** mulberry32: a small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NODES = [TEST_NODE, 'node-b', 'node-c'];

/** `count` services; `bump` changes the endpoints and specs of every 7th service (for partial syncs). */
function docs(count: number, seed: number, bump = false, extra: Obj[] = []): Obj[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Obj[] = [
    kpCluster({ podCIDR: '10.0.0.0/8,fd00:10::/64', serviceCIDR: '172.30.0.0/16,fd00:172:30::/112' }),
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: TEST_NODE },
      spec: { podCIDR: '10.0.1.0/24' },
      status: {
        addresses: [
          { type: 'InternalIP', address: '192.168.0.2' },
          { type: 'InternalIP', address: '2001:db8::2' },
        ],
      },
    },
    ...namespaces('ns1', 'ns2', 'zeta'),
    ...extra,
  ];
  for (let i = 0; i < count; i++) {
    const changed = bump && i % 7 === 3;
    const ns = pick(['ns1', 'ns2', 'zeta']);
    const name = `s${i}`;
    const type = pick(['ClusterIP', 'ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer']);
    const v6 = r() < 0.1;
    const headless = !v6 && type === 'ClusterIP' && r() < 0.05;
    const nPorts = r() < 0.2 ? 2 : 1;
    const ports: Obj[] = [];
    const slicePorts: { name?: string; port: number; protocol?: string }[] = [];
    for (let p = 0; p < nPorts; p++) {
      const protocol = pick(['TCP', 'TCP', 'TCP', 'UDP', 'SCTP']);
      const pn = nPorts === 1 && r() < 0.3 ? undefined : `p${p}`;
      const port = 80 + p + (changed ? 1000 : 0) * (i % 2);
      ports.push({
        ...(pn ? { name: pn } : {}),
        port,
        protocol,
        ...(type !== 'ClusterIP' ? { nodePort: 3000 + i * 2 + p } : {}),
      });
      slicePorts.push({ ...(pn ? { name: pn } : {}), port: 8080 + p, protocol });
    }
    const spec: Obj = {
      type,
      clusterIP: headless
        ? 'None'
        : v6
          ? `fd00:172:30::${(i + 16).toString(16)}`
          : `172.30.${(i >> 8) + 1}.${i & 255}`,
      ...(v6 ? { ipFamilies: ['IPv6'] } : {}),
      ports,
    };
    if (r() < 0.15) {
      spec.sessionAffinity = 'ClientIP';
      if (r() < 0.5) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 600 } };
    }
    if (type !== 'ClusterIP' && r() < 0.4) spec.externalTrafficPolicy = 'Local';
    if (type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local')
      spec.healthCheckNodePort = 32000 + i;
    if (r() < 0.15) spec.internalTrafficPolicy = 'Local';
    if (!v6 && r() < 0.1) spec.externalIPs = [`192.168.99.${i & 255}`];
    if (type === 'LoadBalancer' && !v6 && r() < 0.4)
      spec.loadBalancerSourceRanges = pick([['192.168.0.0/24', '203.0.113.0/25'], ['198.51.100.0/24']]);
    const lbIP = v6 ? `2001:db8:1::${(i + 1).toString(16)}` : `1.2.${i >> 8}.${i & 255}`;
    const status = type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: lbIP }] } } : undefined;
    out.push(service(ns, name, spec, status));
    const nEps = Math.floor(r() * 7) - 1 + (changed ? 1 : 0);
    const slices = r() < 0.2 ? 2 : 1;
    for (let s = 1; s <= slices; s++) {
      if (nEps < 0) break;
      const eps = [];
      for (let e = 0; e < nEps; e++) {
        const dup = s === 2 && e === 0;
        // The second slice repeats the first slice's first endpoint (a duplicate to collapse).
        const n = dup ? i * 16 + 8 : i * 16 + e + s * 8;
        const cond = r();
        eps.push({
          ip: v6 ? `fd00:10::${n.toString(16)}` : `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
          node: pick(NODES),
          ...(cond < 0.1
            ? { ready: false, serving: true, terminating: true }
            : cond < 0.15
              ? { ready: false, serving: false, terminating: true }
              : cond < 0.2
                ? { ready: false }
                : {}),
        });
      }
      out.push(slice(ns, name, slicePorts, eps, s, v6 ? 'IPv6' : 'IPv4'));
    }
  }
  return out;
}

const digest = (parts: readonly unknown[]) =>
  createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);

function fullDigest(snap: ClusterSnapshot, opts: RenderOptions): string {
  const r = renderNode(snap, TEST_NODE, opts);
  return digest([
    r.restore,
    r.filter,
    r.nat,
    r.chains,
    r.largeClusterMode,
    r.totalEndpoints,
    r.services.map((p) => [p.view.name, p.filterRules, p.natEntryRules, p.natChains, p.natChainRules]),
    [...r.state.natChains].sort(),
    [...r.state.fingerprints].sort(),
  ]);
}

function partialDigest(prev: ClusterSnapshot, next: ClusterSnapshot, opts: RenderOptions): string {
  const full = renderNode(prev, TEST_NODE, opts);
  const changed = next.services
    .filter((s) => Number(s.meta.name.slice(1)) % 7 === 3)
    .map((s) => `${s.meta.namespace}/${s.meta.name}`);
  const hinted = renderPartialSync(prev, next, TEST_NODE, full.state, { ...opts, changedServices: changed });
  const unhinted = renderPartialSync(prev, next, TEST_NODE, full.state, opts);
  const noCleanup = renderPartialSync(prev, next, TEST_NODE, full.state, {
    ...opts,
    cleanupStaleChains: false,
  });
  const after = renderPartialSync(next, next, TEST_NODE, noCleanup.state, opts);
  return digest(
    [hinted, unhinted, noCleanup, after].map((p) => [
      p.restore,
      p.updatedServices,
      p.deletedChains,
      p.largeClusterMode,
      [...p.state.natChains].sort(),
      [...p.state.fingerprints].sort(),
    ]),
  );
}

describe('render output is byte-stable on a varied 400-service cluster', () => {
  const prev = cluster(...docs(400, 20260101));
  const next = cluster(...docs(400, 20260101, true));
  const masqAll = cluster(...docs(120, 7, false, [kubeProxy({ iptables: { masqueradeAll: true } })]));
  const nodeCIDR = cluster(
    ...docs(120, 8, false, [
      kubeProxy({ detectLocalMode: 'NodeCIDR', nodePortAddresses: ['127.0.0.0/8', '192.168.0.0/24'] }),
    ]),
  );

  const cases: [string, ClusterSnapshot, RenderOptions, string][] = [
    ['defaults', prev, {}, 'c452185aacf95ee51cdb551d2a4e9e52'],
    ['upstream options', prev, UPSTREAM_OPTS, 'f6fd0d5dabc8e1d68bb78405d000cf92'],
    [
      'large-cluster mode, nfacct',
      prev,
      { largeClusterThreshold: 10, nfacct: true },
      '2e7e51c64d161edc9f8f0c52464228b8',
    ],
    ['IPv6', prev, { ...UPSTREAM_OPTS, family: 6 }, '0da9a6514f879d5ae94a98289ba2ba2c'],
    ['masqueradeAll', masqAll, { conntrackTCPBeLiberal: true }, 'f16dce720024d5462ab3426ab26571af'],
    [
      'NodeCIDR detector, nodePortAddresses',
      nodeCIDR,
      { kubeletJumpsFirst: false },
      'c646349ccd0d804f9c4512577e5f0a84',
    ],
  ];
  it('exercises every rule family', () => {
    const r = renderNode(prev, TEST_NODE);
    for (const needle of [
      '-j KUBE-SVL-',
      '-j KUBE-FW-',
      ':KUBE-EXT-',
      '--rcheck --seconds 600',
      '--rcheck --seconds 10800',
      'has no endpoints',
      'has no local endpoints',
      'health check node port',
      'external IP',
      'loadbalancer IP',
      '-m udp -p udp',
      '-m sctp -p sctp',
      '-m statistic --mode random --probability 0.2000000000',
    ])
      expect(r.restore, needle).toContain(needle);
    expect(renderNode(prev, TEST_NODE, { family: 6 }).restore).toContain(
      '-j DNAT --to-destination [fd00:10::',
    );
  });
  for (const [what, snap, opts, expected] of cases) {
    it(`full render: ${what}`, () => {
      expect(fullDigest(snap, opts)).toBe(expected);
    });
  }
  it('partial syncs (hinted, unhinted, without cleanup, then cleanup)', () => {
    expect(partialDigest(prev, next, UPSTREAM_OPTS)).toBe('04876f13b2c27f9fa786ec28bdd7f0d3');
  });
  it('partial syncs in large-cluster mode', () => {
    expect(partialDigest(prev, next, { largeClusterThreshold: 10 })).toBe('2b439c2106b28a70c82a4fc60276b0aa');
  });
});

describe('the benchmark cluster', () => {
  it('built from objects renders exactly as built through YAML', () => {
    const [a, b] = [clusterViaYaml(300, 5), clusterOf(300, 5)];
    const [a2, b2] = [clusterViaYaml(300, 5, 42), clusterOf(300, 5, 42)];
    const ra = renderNode(a, NODE);
    const rb = renderNode(b, NODE);
    expect(rb.restore).toBe(ra.restore);
    const hint = { changedServices: ['default/svc-42'] };
    expect(renderPartialSync(b, b2, NODE, rb.state, hint).restore).toBe(
      renderPartialSync(a, a2, NODE, ra.state, hint).restore,
    );
  });
});
