import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { categorizeEndpoints, type EndpointView, servicePortViews } from '../../netmodel/service/index.js';
import {
  cluster,
  kpCluster,
  namespaces,
  service,
  slice,
  TEST_NODE,
  testNode,
} from '../iptables-render/helpers.js';

function ep(text: string, flags: string): EndpointView {
  const [ip, port] = text.split(':');
  return {
    ip: parseIP(ip!),
    port: Number(port),
    text,
    ready: flags.includes('R'),
    serving: flags.includes('S') || flags.includes('R'),
    terminating: flags.includes('T'),
    nodeName: flags.includes('L') ? TEST_NODE : 'other',
    zone: null,
    isLocal: flags.includes('L'),
  };
}

// Policies: [usesClusterEndpoints, usesLocalEndpoints] for the four iTP/eTP combinations that matter.
const CLUSTER = { usesClusterEndpoints: true, usesLocalEndpoints: false };
const LOCAL = { usesClusterEndpoints: false, usesLocalEndpoints: true };
const BOTH = { usesClusterEndpoints: true, usesLocalEndpoints: true };

const names = (xs: readonly EndpointView[]) => xs.map((e) => e.text).join(', ');

// Flags: R ready, S serving, T terminating, L local.
describe('categorizeEndpoints', () => {
  it.each([
    {
      name: 'cluster: ready only',
      policy: CLUSTER,
      eps: ['10.0.0.1:80 R', '10.0.0.2:80 ST', '10.0.0.3:80 '],
      cluster: '10.0.0.1:80',
      local: '',
      all: '10.0.0.1:80',
      any: true,
    },
    {
      name: 'cluster: fallback to serving+terminating',
      policy: CLUSTER,
      eps: ['10.0.0.1:80 ST', '10.0.0.2:80 T', '10.0.0.3:80 '],
      cluster: '10.0.0.1:80',
      local: '',
      all: '10.0.0.1:80',
      any: true,
    },
    {
      name: 'cluster: nothing usable',
      policy: CLUSTER,
      eps: ['10.0.0.2:80 T', '10.0.0.3:80 '],
      cluster: '',
      local: '',
      all: '',
      any: false,
    },
    {
      name: 'local: local ready',
      policy: LOCAL,
      eps: ['10.0.0.1:80 RL', '10.0.0.2:80 R'],
      cluster: '',
      local: '10.0.0.1:80',
      all: '10.0.0.1:80',
      any: true,
    },
    {
      name: 'local: none local, but endpoints elsewhere',
      policy: LOCAL,
      eps: ['10.0.0.2:80 R'],
      cluster: '',
      local: '',
      all: '',
      any: true,
    },
    {
      name: 'local: local fallback is independent of remote ready',
      policy: LOCAL,
      eps: ['10.0.0.1:80 STL', '10.0.0.2:80 R'],
      cluster: '',
      local: '10.0.0.1:80',
      all: '10.0.0.1:80',
      any: true,
    },
    {
      name: 'both: ready local is a subset of cluster',
      policy: BOTH,
      eps: ['10.0.0.1:80 RL', '10.0.0.2:80 R'],
      cluster: '10.0.0.1:80, 10.0.0.2:80',
      local: '10.0.0.1:80',
      all: '10.0.0.1:80, 10.0.0.2:80',
      any: true,
    },
    {
      name: 'both: terminating local is merged in',
      policy: BOTH,
      eps: ['10.0.0.1:80 STL', '10.0.0.2:80 R'],
      cluster: '10.0.0.2:80',
      local: '10.0.0.1:80',
      all: '10.0.0.1:80, 10.0.0.2:80',
      any: true,
    },
    { name: 'both: no endpoints', policy: BOTH, eps: [], cluster: '', local: '', all: '', any: false },
  ])('$name', ({ policy, eps, cluster, local, all, any }) => {
    const endpoints = eps.map((e) => {
      const [t, f] = e.split(' ');
      return ep(t!, f ?? '');
    });
    const c = categorizeEndpoints({ ...policy, endpoints });
    expect(names(c.clusterEndpoints)).toBe(cluster);
    expect(names(c.localEndpoints)).toBe(local);
    expect(names(c.allReachableEndpoints)).toBe(all);
    expect(c.hasAnyEndpoints).toBe(any);
  });

  it('reports which fallback was taken', () => {
    const c = categorizeEndpoints({
      ...BOTH,
      endpoints: [ep('10.0.0.1:80', 'STL'), ep('10.0.0.2:80', 'ST')],
    });
    expect(c.clusterUsesTerminating).toBe(true);
    expect(c.localUsesTerminating).toBe(true);
    expect(c.hasLocalReadyEndpoints).toBe(false);
    expect(c.hasLocalServingTerminatingEndpoints).toBe(true);
  });
});

describe('servicePortViews', () => {
  const snap = cluster(
    kpCluster(),
    testNode(),
    ...namespaces('ns1'),
    service('ns1', 'multi', {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      clusterIP: '172.30.0.41',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', nodePort: 3053 },
      ],
    }),
    service('ns1', 'headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
    service('ns1', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
    // Two slices: a duplicate address (terminating copy loses), a wrong-protocol port and a zero-padded sort case.
    slice(
      'ns1',
      'multi',
      [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 5353 },
      ],
      [{ ip: '10.1.1.1', node: TEST_NODE }, { ip: '10.1.1.11' }],
    ),
    slice(
      'ns1',
      'multi',
      [
        { name: 'dns', port: 53, protocol: 'TCP' },
        { name: 'dns-tcp', port: 5353 },
      ],
      [{ ip: '10.1.1.1', terminating: true, ready: false }],
      2,
    ),
  );
  const views = servicePortViews(snap, TEST_NODE);

  it('skips headless and ExternalName services; one view per port, sorted', () => {
    expect(views.map((v) => `${v.name}/${v.protocol}`)).toEqual([
      'ns1/multi:dns/UDP',
      'ns1/multi:dns-tcp/TCP',
    ]);
  });

  it('matches slice ports by name and protocol, dedupes, sorts endpoint strings byte-wise', () => {
    const [dns, tcp] = views;
    expect(dns!.endpoints.map((e) => e.text)).toEqual(['10.1.1.11:53', '10.1.1.1:53']);
    expect(tcp!.endpoints.map((e) => [e.text, e.ready, e.isLocal])).toEqual([
      ['10.1.1.11:5353', true, false],
      ['10.1.1.1:5353', true, true],
    ]);
  });

  it('derives the policies kube-proxy uses', () => {
    const tcp = views[1]!;
    expect(tcp.nodePort).toBe(3053);
    expect(tcp.externallyAccessible).toBe(true);
    expect(tcp.externalPolicyLocal).toBe(true);
    expect(tcp.usesClusterEndpoints).toBe(true);
    expect(tcp.usesLocalEndpoints).toBe(true);
    expect(tcp.healthCheckNodePort).toBeGreaterThan(0);
    expect(tcp.loadBalancerVIPs.length).toBeGreaterThan(0);
  });
});
