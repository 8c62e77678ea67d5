import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { createAnswerer } from '../../netmodel/dns/answer.js';
import { rrText } from '../../netmodel/dns/dig.js';
import type { Message } from '../../netmodel/dns/message.js';
import { rcodeOf } from '../../netmodel/dns/message.js';
import type { ZoneOptions } from '../../netmodel/dns/view.js';
import { RRType, rcodeName } from '../../netmodel/dns/wire-constants.js';
import { buildZone, reverseName } from '../../netmodel/dns/zone.js';
import { clusterView } from './fixtures.js';

const Z = 'cluster.local';

function answerer(opts: ZoneOptions = {}) {
  return createAnswerer(buildZone(clusterView(), opts));
}

const a = answerer();

function q(name: string, type: keyof typeof RRType, ans = a): Message {
  return ans.query(name, RRType[type]);
}

function status(m: Message): string {
  return rcodeName(rcodeOf(m));
}

function answers(m: Message): string[] {
  return m.answers.map(rrText);
}

function expectNoData(m: Message): void {
  expect(status(m)).toBe('NOERROR');
  expect(m.answers).toHaveLength(0);
  expect(m.authority.map((r) => r.type)).toEqual([RRType.SOA]);
}

function expectNx(m: Message): void {
  expect(status(m)).toBe('NXDOMAIN');
  expect(m.answers).toHaveLength(0);
  expect(m.authority.map((r) => r.type)).toEqual([RRType.SOA]);
}

describe('positive answers', () => {
  it('A for a ClusterIP service, AA set, RA clear, configured TTL', () => {
    const m = q(`svc1.testns.svc.${Z}`, 'A');
    expect(status(m)).toBe('NOERROR');
    expect(answers(m)).toEqual([`svc1.testns.svc.${Z}.\t30\tIN\tA\t10.96.0.11`]);
    expect(m.flags & 0x0400).toBeTruthy();
    expect(m.flags & 0x0080).toBe(0);
  });

  it('A and AAAA for a dual-stack service; AAAA NODATA for a v4-only one', () => {
    expect(answers(q(`dual.testns.svc.${Z}`, 'A'))).toEqual([`dual.testns.svc.${Z}.\t30\tIN\tA\t10.96.0.12`]);
    expect(answers(q(`dual.testns.svc.${Z}`, 'AAAA'))).toEqual([
      `dual.testns.svc.${Z}.\t30\tIN\tAAAA\tfd00:10:96::12`,
    ]);
    expectNoData(q(`svc1.testns.svc.${Z}`, 'AAAA'));
  });

  it('A for a ClusterIP service with no endpoints', () => {
    expect(answers(q(`svcempty.testns.svc.${Z}`, 'A'))).toHaveLength(1);
  });

  it('headless: one A per ready endpoint, not-ready hidden, AAAA for v6 endpoints', () => {
    const m = q(`hdls1.testns.svc.${Z}`, 'A');
    expect(m.answers.map((r) => (r.data.kind === 'address' ? r.data.ip : ''))).toEqual([
      '10.244.2.1',
      '10.244.2.2',
    ]);
    expect(answers(q(`hdls1.testns.svc.${Z}`, 'AAAA'))).toEqual([
      `hdls1.testns.svc.${Z}.\t30\tIN\tAAAA\tfd00:10:244::5`,
    ]);
  });

  it('headless with no ready endpoints is NXDOMAIN; publishNotReadyAddresses shows them', () => {
    expectNx(q(`hdlsempty.testns.svc.${Z}`, 'A'));
    expect(answers(q(`notready.testns.svc.${Z}`, 'A'))).toHaveLength(1);
  });

  it('endpoint names: hostname, dashed address (v4 and v6), also under a ClusterIP service', () => {
    expect(answers(q(`web-0.hdls1.testns.svc.${Z}`, 'A'))).toEqual([
      `web-0.hdls1.testns.svc.${Z}.\t30\tIN\tA\t10.244.2.1`,
    ]);
    expect(answers(q(`fd00-10-244--5.hdls1.testns.svc.${Z}`, 'AAAA'))).toHaveLength(1);
    expect(answers(q(`ep1a.svc1.testns.svc.${Z}`, 'A'))).toEqual([
      `ep1a.svc1.testns.svc.${Z}.\t30\tIN\tA\t10.244.1.5`,
    ]);
    expect(answers(q(`10-244-1-6.svc1.testns.svc.${Z}`, 'A'))).toHaveLength(1);
    // an endpoint with a hostname is not reachable by its dashed address
    expectNx(q(`10-244-1-5.svc1.testns.svc.${Z}`, 'A'));
    expectNx(q(`web-2.hdls1.testns.svc.${Z}`, 'A'));
    expectNx(q(`nope.hdls1.testns.svc.${Z}`, 'A'));
  });

  it('SRV for a named port on a ClusterIP service, with the address in ADDITIONAL', () => {
    const m = q(`_http._tcp.svc1.testns.svc.${Z}`, 'SRV');
    expect(answers(m)).toEqual([
      `_http._tcp.svc1.testns.svc.${Z}.\t30\tIN\tSRV\t0 100 80 svc1.testns.svc.${Z}.`,
    ]);
    expect(m.additional.map(rrText)).toEqual([`svc1.testns.svc.${Z}.\t30\tIN\tA\t10.96.0.11`]);
    // underscores are optional, as in CoreDNS's parser
    expect(answers(q(`http.tcp.svc1.testns.svc.${Z}`, 'SRV'))).toHaveLength(1);
    expect(answers(q(`_dns._udp.svc1.testns.svc.${Z}`, 'SRV'))).toEqual([
      `_dns._udp.svc1.testns.svc.${Z}.\t30\tIN\tSRV\t0 100 53 svc1.testns.svc.${Z}.`,
    ]);
  });

  it('SRV on the bare service name lists every port, weight floor(100/N)', () => {
    const m = q(`svc1.testns.svc.${Z}`, 'SRV');
    expect(answers(m)).toEqual([
      `svc1.testns.svc.${Z}.\t30\tIN\tSRV\t0 33 80 svc1.testns.svc.${Z}.`,
      `svc1.testns.svc.${Z}.\t30\tIN\tSRV\t0 33 81 svc1.testns.svc.${Z}.`,
      `svc1.testns.svc.${Z}.\t30\tIN\tSRV\t0 33 53 svc1.testns.svc.${Z}.`,
    ]);
    expect(m.additional).toHaveLength(1);
    const d = q(`_http._tcp.dual.testns.svc.${Z}`, 'SRV');
    expect(answers(d)).toEqual([
      `_http._tcp.dual.testns.svc.${Z}.\t30\tIN\tSRV\t0 50 80 dual.testns.svc.${Z}.`,
    ]);
    expect(d.additional).toHaveLength(2);
  });

  it('SRV on a headless service: one per endpoint and port, targets are endpoint names', () => {
    const m = q(`_http._tcp.hdls1.testns.svc.${Z}`, 'SRV');
    expect(answers(m)).toEqual([
      `_http._tcp.hdls1.testns.svc.${Z}.\t30\tIN\tSRV\t0 33 80 web-0.hdls1.testns.svc.${Z}.`,
      `_http._tcp.hdls1.testns.svc.${Z}.\t30\tIN\tSRV\t0 33 80 web-1.hdls1.testns.svc.${Z}.`,
      `_http._tcp.hdls1.testns.svc.${Z}.\t30\tIN\tSRV\t0 33 80 fd00-10-244--5.hdls1.testns.svc.${Z}.`,
    ]);
    expect(m.additional.map((r) => r.name)).toEqual([
      `web-0.hdls1.testns.svc.${Z}`,
      `web-1.hdls1.testns.svc.${Z}`,
      `fd00-10-244--5.hdls1.testns.svc.${Z}`,
    ]);
  });

  it('SRV negatives: unknown port NXDOMAIN, unnamed port none, portless NODATA, ExternalName NODATA', () => {
    expectNx(q(`_nope._tcp.svc1.testns.svc.${Z}`, 'SRV'));
    expectNx(q(`_http._udp.svc1.testns.svc.${Z}`, 'SRV'));
    expectNoData(q(`portless.testns.svc.${Z}`, 'SRV'));
    expect(answers(q(`portless.testns.svc.${Z}`, 'A'))).toHaveLength(1);
    expectNoData(q(`ext.testns.svc.${Z}`, 'SRV'));
  });

  it('PTR for ClusterIPs (v4, v6) and endpoint addresses', () => {
    expect(answers(q('11.0.96.10.in-addr.arpa', 'PTR'))).toEqual([
      `11.0.96.10.in-addr.arpa.\t30\tIN\tPTR\tsvc1.testns.svc.${Z}.`,
    ]);
    const v6 = reverseName(parseIP('fd00:10:96::12'));
    expect(v6).toBe('2.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa');
    expect(answers(q(v6, 'PTR'))).toEqual([`${v6}.\t30\tIN\tPTR\tdual.testns.svc.${Z}.`]);
    expect(answers(q('1.2.244.10.in-addr.arpa', 'PTR'))).toEqual([
      `1.2.244.10.in-addr.arpa.\t30\tIN\tPTR\tweb-0.hdls1.testns.svc.${Z}.`,
    ]);
    expect(answers(q('6.1.244.10.in-addr.arpa', 'PTR'))).toEqual([
      `6.1.244.10.in-addr.arpa.\t30\tIN\tPTR\t10-244-1-6.svc1.testns.svc.${Z}.`,
    ]);
  });

  it('PTR negatives: unknown address and partial names NXDOMAIN (SOA of the reverse zone); forward name NODATA', () => {
    const m = q('9.9.9.10.in-addr.arpa', 'PTR');
    expectNx(m);
    expect(m.authority[0]!.name).toBe('in-addr.arpa');
    expectNx(q('3.2.244.10.in-addr.arpa', 'PTR')); // not ready
    expectNx(q('10.in-addr.arpa', 'PTR'));
    expectNoData(q(`svc1.testns.svc.${Z}`, 'PTR'));
  });

  it('ExternalName: CNAME; A out of zone is CNAME only; in zone the target is chased', () => {
    expect(answers(q(`ext.testns.svc.${Z}`, 'CNAME'))).toEqual([
      `ext.testns.svc.${Z}.\t30\tIN\tCNAME\text.example.com.`,
    ]);
    expect(answers(q(`ext.testns.svc.${Z}`, 'A'))).toEqual([
      `ext.testns.svc.${Z}.\t30\tIN\tCNAME\text.example.com.`,
    ]);
    expect(answers(q(`extin.testns.svc.${Z}`, 'A'))).toEqual([
      `extin.testns.svc.${Z}.\t30\tIN\tCNAME\tsvc1.testns.svc.${Z}.`,
      `svc1.testns.svc.${Z}.\t30\tIN\tA\t10.96.0.11`,
    ]);
    expectNoData(q(`ext.testns.svc.${Z}`, 'TXT'));
    expectNx(q(`x.ext.testns.svc.${Z}`, 'A'));
    expectNx(q(`extip.testns.svc.${Z}`, 'A'));
  });

  it('pod records by pods mode', () => {
    const insecure = a;
    expect(answers(q(`1-2-3-4.testns.pod.${Z}`, 'A', insecure))).toEqual([
      `1-2-3-4.testns.pod.${Z}.\t30\tIN\tA\t1.2.3.4`,
    ]);
    expect(answers(q(`fd00-1--5.testns.pod.${Z}`, 'AAAA', insecure))).toEqual([
      `fd00-1--5.testns.pod.${Z}.\t30\tIN\tAAAA\tfd00:1::5`,
    ]);
    expectNoData(q(`fd00-1--5.testns.pod.${Z}`, 'A', insecure));
    expectNx(q(`1-2-3-999.testns.pod.${Z}`, 'A', insecure));
    expectNx(q(`1-2-3-4.nsnoexist.pod.${Z}`, 'A', insecure));
    expectNoData(q(`testns.pod.${Z}`, 'A', insecure));

    const verified = answerer({ podsMode: 'verified' });
    expect(answers(q(`10-244-1-5.testns.pod.${Z}`, 'A', verified))).toHaveLength(1);
    expectNx(q(`10-244-1-5.default.pod.${Z}`, 'A', verified));
    expectNx(q(`1-2-3-4.testns.pod.${Z}`, 'A', verified));

    const disabled = answerer({ podsMode: 'disabled' });
    expectNx(q(`10-244-1-5.testns.pod.${Z}`, 'A', disabled));
    expectNx(q(`testns.pod.${Z}`, 'A', disabled));
    expectNoData(q(`pod.${Z}`, 'A', disabled));
  });

  it('dns-version TXT, TTL 28800', () => {
    expect(answers(q(`dns-version.${Z}`, 'TXT'))).toEqual([`dns-version.${Z}.\t28800\tIN\tTXT\t"1.1.0"`]);
    // CoreDNS quirk kept: dns-version asked as A fails its svc/pod parse
    expectNx(q(`dns-version.${Z}`, 'A'));
  });

  it('SOA and NS at the apex, with CoreDNS SOA fields', () => {
    const m = q(Z, 'SOA');
    expect(answers(m)).toEqual([
      `${Z}.\t30\tIN\tSOA\tns.dns.${Z}. hostmaster.${Z}. 1700000000 7200 1800 86400 30`,
    ]);
    const ns = q(Z, 'NS');
    expect(answers(ns)).toEqual([`${Z}.\t30\tIN\tNS\tns.dns.${Z}.`]);
    expect(ns.additional.map(rrText)).toEqual([`ns.dns.${Z}.\t30\tIN\tA\t10.96.0.10`]);
    expect(answers(q(`ns.dns.${Z}`, 'A'))).toEqual([`ns.dns.${Z}.\t30\tIN\tA\t10.96.0.10`]);
    expect(answers(q('in-addr.arpa', 'SOA'))[0]).toContain('ns.dns.in-addr.arpa.');
  });

  it('SOA TTL is min(ttl, 300) and MINIMUM the ttl', () => {
    const m = q(Z, 'SOA', answerer({ ttl: 600 }));
    expect(answers(m)).toEqual([
      `${Z}.\t300\tIN\tSOA\tns.dns.${Z}. hostmaster.${Z}. 1700000000 7200 1800 86400 600`,
    ]);
  });
});

describe('NXDOMAIN vs NODATA', () => {
  it.each([
    [Z, 'A'],
    [`svc.${Z}`, 'A'],
    [`pod.${Z}`, 'AAAA'],
    [`testns.svc.${Z}`, 'A'],
    [`testns.svc.${Z}`, 'SRV'],
    [`testns.svc.${Z}`, 'TXT'],
    [`svc1.testns.svc.${Z}`, 'TXT'],
    [`svc1.testns.svc.${Z}`, 'MX'],
    [`svc1.testns.svc.${Z}`, 'CNAME'],
    [`svc1.testns.svc.${Z}`, 'ANY'],
    [`svc1.testns.svc.${Z}`, 'NS'],
    [`svc1.testns.svc.${Z}`, 'SOA'],
    [`nothing.testns.svc.${Z}`, 'SOA'],
    [`web-0.hdls1.testns.svc.${Z}`, 'AAAA'],
  ] as const)('%s %s is NODATA', (name, type) => {
    expectNoData(q(name, type));
  });

  it.each([
    [`svc0.testns.svc.${Z}`, 'A'],
    [`svc0.testns.svc.${Z}`, 'TXT'],
    [`svc0.testns.svc.${Z}`, 'ANY'],
    [`nsnoexist.svc.${Z}`, 'A'],
    [`x.nsnoexist.svc.${Z}`, 'A'],
    [`foo.${Z}`, 'A'],
    [`a.b.c.svc1.testns.svc.${Z}`, 'A'],
    [`*.testns.svc.${Z}`, 'A'],
    [`any.testns.svc.${Z}`, 'A'],
    [`11.0.96.10.in-addr.arpa`, 'A'],
  ] as const)('%s %s is NXDOMAIN', (name, type) => {
    expectNx(q(name, type));
  });

  it('negative answers carry the SOA of the zone, spelled as asked, with the negative TTL', () => {
    const m = q(`SVC0.TestNS.svc.Cluster.Local`, 'A');
    expect(m.authority.map(rrText)).toEqual([
      'Cluster.Local.\t30\tIN\tSOA\tns.dns.Cluster.Local. hostmaster.Cluster.Local. 1700000000 7200 1800 86400 30',
    ]);
  });

  it('AXFR/IXFR are refused; names outside the zones are refused', () => {
    expect(status(q(Z, 'AXFR'))).toBe('REFUSED');
    expect(status(q(Z, 'IXFR'))).toBe('REFUSED');
    const m = q('example.com', 'A');
    expect(status(m)).toBe('REFUSED');
    expect(m.flags & 0x0400).toBe(0);
    expect(m.questions[0]!.name).toBe('example.com');
  });

  it('reverse zones can be turned off', () => {
    expect(status(q('11.0.96.10.in-addr.arpa', 'PTR', answerer({ reverseZones: false })))).toBe('REFUSED');
  });
});

describe('case and options', () => {
  it('answers keep the asker case in the question and owner names', () => {
    const m = q(`SvC1.TESTns.svc.CLUSTER.local`, 'A');
    expect(m.questions[0]!.name).toBe('SvC1.TESTns.svc.CLUSTER.local');
    expect(m.answers[0]!.name).toBe('SvC1.TESTns.svc.CLUSTER.local');
  });

  it('mapAddress answers with loopback twins and serves PTR for both', () => {
    const twin = answerer({ mapAddress: (ip) => ip.replace(/^10\./, '127.') });
    expect(answers(q(`svc1.testns.svc.${Z}`, 'A', twin))).toEqual([
      `svc1.testns.svc.${Z}.\t30\tIN\tA\t127.96.0.11`,
    ]);
    expect(answers(q('11.0.96.127.in-addr.arpa', 'PTR', twin))).toHaveLength(1);
  });

  it('endpointPodNames uses the targetRef pod name', () => {
    const view = clusterView();
    const services = view.services.map((s) =>
      s.name === 'svc1'
        ? {
            ...s,
            endpointSlices: [
              {
                ports: s.endpointSlices[0]!.ports,
                endpoints: [{ addresses: ['10.244.1.6'], targetRefName: 'pod-b' }],
              },
            ],
          }
        : s,
    );
    const ans = createAnswerer(buildZone({ ...view, services }, { endpointPodNames: true }));
    expect(answers(q(`pod-b.svc1.testns.svc.${Z}`, 'A', ans))).toHaveLength(1);
  });

  it('bad objects are reported as problems, not thrown', () => {
    const view = clusterView();
    const zone = buildZone({
      ...view,
      services: [...view.services, { ...view.services[0]!, name: 'bad', clusterIPs: ['10.0.0.999'] }],
    });
    expect(zone.problems).toHaveLength(1);
    expect(() => buildZone({ ...view, domain: 'bad..domain' })).toThrow(/cluster domain/);
  });
});
