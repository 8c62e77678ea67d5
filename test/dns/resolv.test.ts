import { describe, expect, it } from 'vitest';
import { createAnswerer } from '../../netmodel/dns/answer.js';
import { podResolvConf, resolveFromPod, searchCandidates } from '../../netmodel/dns/resolv.js';
import { buildZone } from '../../netmodel/dns/zone.js';
import { clusterView } from './fixtures.js';

const a = createAnswerer(buildZone(clusterView()));
const conf = podResolvConf({ namespace: 'testns', domain: 'cluster.local', nameservers: ['10.96.0.10'] });

describe('pod resolver', () => {
  it('writes the kubelet resolv.conf', () => {
    expect(conf.text).toBe(
      'nameserver 10.96.0.10\nsearch testns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n',
    );
  });

  it('orders candidates by ndots', () => {
    expect(searchCandidates('svc1', conf)).toEqual([
      'svc1.testns.svc.cluster.local.',
      'svc1.svc.cluster.local.',
      'svc1.cluster.local.',
      'svc1.',
    ]);
    expect(searchCandidates('a.b.c.d.e.f', conf)[0]).toBe('a.b.c.d.e.f.');
    expect(searchCandidates('x.', conf)).toEqual(['x.']);
  });

  it('a short service name resolves on the first search domain, A and AAAA sent', () => {
    const r = resolveFromPod(a, 'svc1', conf);
    expect(r.resolved).toBe('svc1.testns.svc.cluster.local.');
    expect(r.queries.map((q) => `${q.name} ${q.type} ${q.rcode} ${q.answerCount}`)).toEqual([
      'svc1.testns.svc.cluster.local. A NOERROR 1',
      'svc1.testns.svc.cluster.local. AAAA NOERROR 0',
    ]);
  });

  it('svc.ns costs one futile pair; external names walk the whole list', () => {
    const r = resolveFromPod(a, 'kubernetes.default', conf);
    expect(r.queries.map((q) => `${q.name} ${q.type} ${q.rcode}`)).toEqual([
      'kubernetes.default.testns.svc.cluster.local. A NXDOMAIN',
      'kubernetes.default.testns.svc.cluster.local. AAAA NXDOMAIN',
      'kubernetes.default.svc.cluster.local. A NOERROR',
      'kubernetes.default.svc.cluster.local. AAAA NOERROR',
    ]);
    const ext = resolveFromPod(a, 'api.example.com', conf);
    expect(ext.resolved).toBeUndefined();
    expect(ext.queries).toHaveLength(8);
    expect(ext.queries.at(-1)!.rcode).toBe('REFUSED');
  });
});
