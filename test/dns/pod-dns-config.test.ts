// A pod's spec.dnsConfig merged into the resolv.conf kubelet writes (pkg/kubelet/network/dns
// dns.go: appendDNSConfig appends dnsConfig.searches and nameservers and overrides options by name;
// dnsPolicy None keeps only what dnsConfig gives).
import { describe, expect, it } from 'vitest';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { podResolvConfOf, searchCandidates } from '../../netmodel/dns/index.js';

function pod(spec: string): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: analytics}
spec:
  nodeName: n1
${spec}
  containers: [{name: c, image: kpath/echo}]
`;
}

function confOf(spec: string) {
  const r = buildCluster([
    { file: 'a.yaml', text: `apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n---\n${pod(spec)}` },
  ]);
  expect(r.ok).toBe(true);
  if (!r.ok) throw new Error('build');
  return podResolvConfOf(r.snapshot, r.snapshot.pod('analytics', 'p')!);
}

describe('podResolvConfOf', () => {
  it("ClusterFirst without dnsConfig: kubelet's file, ndots 5", () => {
    expect(confOf('').text).toBe(
      'nameserver 10.96.0.10\nsearch analytics.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
  });

  it('dnsConfig ndots overrides the option; searches are appended', () => {
    const conf = confOf(`  dnsConfig:
    searches: [corp.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]`);
    expect(conf.ndots).toBe(2);
    expect(conf.search).toEqual([
      'analytics.svc.cluster.local',
      'svc.cluster.local',
      'cluster.local',
      'corp.example',
    ]);
    // 4 dots >= ndots 2: tried as written first.
    expect(searchCandidates('orders.shop.svc.cluster.local', conf)[0]).toBe('orders.shop.svc.cluster.local.');
  });

  it('dnsPolicy None: only dnsConfig', () => {
    const conf = confOf(`  dnsPolicy: None
  dnsConfig:
    nameservers: [10.96.0.53]
    searches: [corp.example]`);
    expect(conf.nameservers).toEqual(['10.96.0.53']);
    expect(conf.search).toEqual(['corp.example']);
  });
});
