import { describe, expect, it } from 'vitest';
import { parsePrefix, prefixContains } from '../../netmodel/addr.js';
import { OffsetAllocator, staticBand } from '../../netmodel/cluster/index.js';
import { clusterCfg, deployment, errorsOf, node, pod, snapshotOf, svc } from '../helpers/cluster.js';

describe('allocation', () => {
  it('cluster IPs come from the service CIDR above the static band, given ones are kept', () => {
    const s = snapshotOf(svc('dns', { clusterIP: '10.96.0.10' }), svc('a'), svc('b'), svc('c'));
    expect(s.service('default', 'dns')!.clusterIPs[0]!.text).toBe('10.96.0.10');
    const cidr = parsePrefix('10.96.0.0/12');
    const ips = ['a', 'b', 'c'].map((n) => s.service('default', n)!.clusterIPs[0]!);
    for (const ip of ips) {
      expect(prefixContains(cidr, ip)).toBe(true);
      // The lower 256 addresses (static band for a /12) are left for hand-picked IPs.
      expect(ip.family === 4 && cidr.ip.family === 4 ? ip.n - cidr.ip.n : 0).toBeGreaterThan(256);
    }
    expect(new Set(ips.map((i) => i.text)).size).toBe(3);
  });

  it('adding a service does not move the others', () => {
    const before = snapshotOf(svc('a'), svc('b'));
    const after = snapshotOf(svc('a'), svc('zzz'), svc('b'));
    for (const n of ['a', 'b']) {
      expect(after.service('default', n)!.clusterIPs[0]!.text).toBe(
        before.service('default', n)!.clusterIPs[0]!.text,
      );
    }
  });

  it('a given IP wins over an allocated one that hashes to the same address', () => {
    const s1 = snapshotOf(svc('a'));
    const taken = s1.service('default', 'a')!.clusterIPs[0]!.text;
    const s2 = snapshotOf(svc('a'), svc('squatter', { clusterIP: taken }));
    expect(s2.service('default', 'squatter')!.clusterIPs[0]!.text).toBe(taken);
    expect(s2.service('default', 'a')!.clusterIPs[0]!.text).not.toBe(taken);
  });

  it('a small service CIDR fills up with a clear error', () => {
    const docs = [
      clusterCfg({ serviceCIDR: '10.96.0.0/29' }),
      ...Array.from({ length: 7 }, (_, i) => svc(`s${i}`)),
    ];
    const errs = errorsOf(...docs);
    expect(errs).toHaveLength(1);
    expect(errs[0]!.message).toMatch(/service CIDR 10\.96\.0\.0\/29 is full/);
  });

  it('headless and ExternalName services get no cluster IP; dual-stack gets one per family', () => {
    const s = snapshotOf(
      clusterCfg({ serviceCIDR: '10.96.0.0/12,fd00:10:96::/112', podCIDR: '10.244.0.0/16,fd00:10:244::/56' }),
      svc('h', { clusterIP: 'None' }),
      svc('e', { type: 'ExternalName', externalName: 'x.example.com' }),
      svc('ds', { ipFamilyPolicy: 'RequireDualStack' }),
      svc('pref', { ipFamilyPolicy: 'PreferDualStack', ipFamilies: ['IPv6'] }),
    );
    expect(s.service('default', 'h')!.clusterIPs).toEqual([]);
    expect(s.service('default', 'h')!.headless).toBe(true);
    expect(s.service('default', 'e')!.clusterIPs).toEqual([]);
    const ds = s.service('default', 'ds')!;
    expect(ds.clusterIPs.map((i) => i.family)).toEqual([4, 6]);
    expect(ds.clusterIPs[1]!.text).toMatch(/^fd00:10:96::/);
    expect(s.service('default', 'pref')!.clusterIPs.map((i) => i.family)).toEqual([6, 4]);
  });

  it('node ports: allocated in range for NodePort and LoadBalancer, shared by TCP and UDP of one port', () => {
    const s = snapshotOf(
      svc('np', {
        type: 'NodePort',
        ports: [
          { name: 'u', port: 53, protocol: 'UDP' },
          { name: 't', port: 53 },
          { name: 'h', port: 80 },
        ],
      }),
      svc('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }),
      svc('ci'),
    );
    const np = s.service('default', 'np')!;
    for (const p of np.ports) expect(p.nodePort).toBeGreaterThanOrEqual(30000 + 86);
    expect(np.ports[0]!.nodePort).toBe(np.ports[1]!.nodePort);
    expect(np.ports[2]!.nodePort).not.toBe(np.ports[0]!.nodePort);
    const lb = s.service('default', 'lb')!;
    expect(lb.ports[0]!.nodePort).not.toBeNull();
    expect(lb.healthCheckNodePort).not.toBeNull();
    expect(lb.loadBalancerIngress[0]!.text).toMatch(/^10\.250\.0\./);
    expect(s.service('default', 'ci')!.ports[0]!.nodePort).toBeNull();
  });

  it('LoadBalancer ingress from status is kept', () => {
    const s = snapshotOf(
      svc('lb', { type: 'LoadBalancer' }, { status: { loadBalancer: { ingress: [{ ip: '192.0.2.7' }] } } }),
    );
    expect(s.service('default', 'lb')!.loadBalancerIngress.map((i) => i.text)).toEqual(['192.0.2.7']);
  });

  it('nodes get /24s of the pod CIDR and addresses from the node CIDR', () => {
    const s = snapshotOf(node('b'), node('a', { podCIDR: '10.244.0.0/24', ip: '10.0.0.50' }), node('c'));
    const by = (n: string) => s.node(n)!;
    expect(by('a').podCIDRs.map((p) => p.text)).toEqual(['10.244.0.0/24']);
    expect(by('b').podCIDRs.map((p) => p.text)).toEqual(['10.244.1.0/24']);
    expect(by('c').podCIDRs.map((p) => p.text)).toEqual(['10.244.2.0/24']);
    expect(by('a').internalIPs.map((i) => i.text)).toEqual(['10.0.0.50']);
    expect(by('b').internalIPs.map((i) => i.text)).toEqual(['10.0.0.11']);
    expect(by('c').internalIPs.map((i) => i.text)).toEqual(['10.0.0.12']);
  });

  it('pod IPs: from a hash of namespace and name, independent of other pods; given ones kept; hostNetwork uses the node IP', () => {
    const n1 = node('n1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' });
    const ipOf = (s: ReturnType<typeof snapshotOf>, name: string) => s.pod('default', name)!.podIPs[0]!.text;
    const alone = snapshotOf(n1, pod('a', { nodeName: 'n1' }));
    const home = ipOf(alone, 'a');
    // Neither .0 (the network) nor .1 (cni0) nor .255 (broadcast).
    expect(Number(home.split('.')[3])).toBeGreaterThanOrEqual(2);
    expect(Number(home.split('.')[3])).toBeLessThanOrEqual(254);
    const s = snapshotOf(
      n1,
      pod('b', { nodeName: 'n1' }),
      pod('a', { nodeName: 'n1' }),
      pod('c', { nodeName: 'n1' }),
      pod('host', { nodeName: 'n1', spec: { hostNetwork: true } }),
    );
    // Other pods, before or after it in the manifests, do not move it.
    expect(ipOf(s, 'a')).toBe(home);
    expect(ipOf(s, 'host')).toBe('10.0.0.11');
    // A pod that holds a's address already (given in its status) keeps it; a probes to the next one.
    const taken = snapshotOf(
      n1,
      pod('fixed', { nodeName: 'n1', status: { phase: 'Running', podIP: home } }),
      pod('a', { nodeName: 'n1' }),
    );
    expect(ipOf(taken, 'fixed')).toBe(home);
    const next = Number(home.split('.')[3]) === 254 ? 2 : Number(home.split('.')[3]) + 1;
    expect(ipOf(taken, 'a')).toBe(`10.244.1.${next}`);
  });

  it('pod CIDR exhaustion is reported', () => {
    const errs = errorsOf(
      clusterCfg({ podCIDR: '10.244.0.0/30', nodeCIDRMaskSize: 30 }),
      node('n1'),
      deployment('web', 3),
    );
    expect(errs.some((e) => /pod CIDR 10\.244\.0\.0\/30 is full/.test(e.message))).toBe(true);
  });
});

describe('OffsetAllocator', () => {
  it('uses the upper band first, then the static band, then reports full', () => {
    const a = new OffsetAllocator(1n, 20n, 16n);
    const got: bigint[] = [];
    for (let i = 0; i < 20; i++) got.push(a.allocate(`k${i}`)!);
    expect(got.slice(0, 4).every((o) => o >= 17n)).toBe(true);
    expect(got.slice(4).every((o) => o < 17n)).toBe(true);
    expect(new Set(got).size).toBe(20);
    expect(a.allocate('more')).toBeUndefined();
  });
  it('the static band follows the apiserver formula', () => {
    expect(staticBand(1n << 20n)).toBe(256n);
    expect(staticBand(256n)).toBe(16n);
    expect(staticBand(1024n)).toBe(64n);
  });
});
