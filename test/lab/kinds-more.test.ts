/** The check kinds of the DNS, conntrack and MTU labs: a lab author's mistakes, and the judges' words. */
import { describe, expect, it } from 'vitest';
import { dnsLookup } from '../../lab/checks/dns-lookup.js';
import { envHttp } from '../../lab/checks/env-http.js';
import { httpConcurrent } from '../../lab/checks/http-concurrent.js';
import { overlayPath } from '../../lab/checks/overlay-path.js';

const where = 'lab.yaml: checks[0]';

describe('parse: a lab author mistake names the field', () => {
  it.each([
    [dnsLookup, { from: 'pod/a/b', expect: { target: 'svc/a/b' } }, /lookup: one of lookup/],
    [
      dnsLookup,
      { from: 'pod/a/b', lookup: 'x', lookupFromEnv: 'X', expect: { resolves: true } },
      /lookup: one of/,
    ],
    [dnsLookup, { from: 'node/n1', lookup: 'x', expect: { resolves: true } }, /from: pod\/NAMESPACE\/NAME/],
    [dnsLookup, { from: 'pod/a/b', lookup: 'x', type: 'MX', expect: { resolves: true } }, /type: A or SRV/],
    [dnsLookup, { from: 'pod/a/b', lookup: 'x', expect: { target: 'deploy/a/b' } }, /expect.target/],
    [dnsLookup, { from: 'pod/a/b', lookup: 'x', expect: { maxQuery: 2 } }, /maxQuery: unknown field/],
    [dnsLookup, { from: 'pod/a/b', lookup: 'x' }, /expect: at least one of/],
    [envHttp, { from: 'pod/a/b', env: 'U', url: 'http://x/' }, /url: not with env/],
    [envHttp, { from: 'node/n1', env: 'U' }, /from: pod\/NAMESPACE\/NAME/],
    [
      httpConcurrent,
      { from: 'pod/a/b', url: 'http://x/', connections: 4, expect: { answered: 5 } },
      /answered/,
    ],
    [overlayPath, { from: 'pod/a/b', to: 'svc/a/b', expect: {} }, /expect.delivered: true or false/],
    [
      overlayPath,
      { from: 'pod/a/b', to: 'svc/a/b', size: 'jumbo', expect: { delivered: true } },
      /size: mss/,
    ],
  ] as const)('%#', (kind, raw, msg) => {
    expect(() => (kind as typeof dnsLookup).parse(raw as Record<string, unknown>, where)).toThrow(msg);
  });
});

describe('judges', () => {
  it('dns-lookup: the queries in order when a name does not resolve; the count against maxQueries', () => {
    const spec = dnsLookup.parse(
      { from: 'pod/shop/web', lookup: 'api', expect: { target: 'svc/shop/api', maxQueries: 2 } },
      where,
    );
    const queries = [
      { name: 'api.shop.svc.cluster.local.', type: 'A' as const, rcode: 'NXDOMAIN', answers: [] },
      { name: 'api.shop.svc.cluster.local.', type: 'AAAA' as const, rcode: 'NXDOMAIN', answers: [] },
      { name: 'api.svc.cluster.local.', type: 'A' as const, rcode: 'NXDOMAIN', answers: [] },
    ];
    const v = dnsLookup.judge(spec, {
      name: 'api',
      queries,
      targetAddresses: ['10.96.0.5'],
      targetNames: [],
    });
    expect(v.passed).toBe(false);
    expect(v.detail).toContain('api did not resolve: every name asked gave no answer after 3 queries');
    expect(v.detail).toContain('sent 3 queries to kube-dns');
    const ok = dnsLookup.judge(spec, {
      name: 'api',
      queries: [{ name: 'api.shop.svc.cluster.local.', type: 'A', rcode: 'NOERROR', answers: ['10.96.0.5'] }],
      resolvedName: 'api.shop.svc.cluster.local.',
      targetAddresses: ['10.96.0.5'],
      targetNames: [],
    });
    expect(ok).toEqual({
      passed: true,
      detail: 'api resolved as api.shop.svc.cluster.local. to 10.96.0.5 in 1 query',
    });
  });

  it('dns-lookup: an answer that is not the target fails, naming both', () => {
    const spec = dnsLookup.parse({ from: 'pod/a/b', lookup: 'db', expect: { target: 'svc/a/db' } }, where);
    const v = dnsLookup.judge(spec, {
      name: 'db',
      queries: [{ name: 'db.a.svc.cluster.local.', type: 'A', rcode: 'NOERROR', answers: ['10.96.0.9'] }],
      resolvedName: 'db.a.svc.cluster.local.',
      targetAddresses: ['10.96.0.7'],
      targetNames: [],
    });
    expect(v).toEqual({
      passed: false,
      detail: 'db resolved as db.a.svc.cluster.local. to 10.96.0.9; expected svc/a/db (10.96.0.7)',
    });
  });

  it('http-concurrent: counts answers and names the rest', () => {
    const spec = httpConcurrent.parse({ from: 'pod/a/b', url: 'http://web/', connections: 4 }, where);
    const v = httpConcurrent.judge(spec, {
      results: ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'timeout', 'refused'],
    });
    expect(v).toEqual({
      passed: false,
      detail:
        '4 connections to http://web/ held open at once: 2 answered, 1 got no answer within 1500 ms, 1 refused; expected all 4 answered',
    });
  });
});
