/**
 * The DNS, NetworkPolicy, ipvs, conntrack and MTU labs as a learner takes them, with real traffic:
 * start, check (fails: exit 1), solve, check (passes: exit 0), and what the failing checks said. One
 * file, so the runtime and CLI are loaded once for all of them (mtu-vxlan's check walks the emulated
 * datapath, as its task says: loopback sockets have no overlay MTU).
 */
import { describe, expect, it } from 'vitest';
import { detail, failed, roundTrip } from './helpers.js';

// Lab dns-cross-namespace: a short name only searches the pod's own namespace.
describe('lab dns-cross-namespace', () => {
  it("dns-cross-namespace: NXDOMAIN through shop's search path until the URL names billing", async () => {
    const { broken, fixed } = await roundTrip('dns-cross-namespace');
    expect(failed(broken)).toEqual([
      "the host in checkout's PAYMENTS_URL resolves to the payments service",
      'checkout gets an answer from PAYMENTS_URL',
    ]);
    // The resolver walks shop's search path (kubelet's resolv.conf), every candidate NXDOMAIN.
    expect(detail(broken, "the host in checkout's PAYMENTS_URL resolves to the payments service")).toMatch(
      /A payments\.shop\.svc\.cluster\.local\. NXDOMAIN; .*A payments\.svc\.cluster\.local\. NXDOMAIN/,
    );
    expect(detail(fixed, 'checkout gets an answer from PAYMENTS_URL')).toMatch(
      /^PAYMENTS_URL=http:\/\/payments\.billing\/: HTTP 200 from billing\/payments-/,
    );
  });
});

// Lab dns-ndots: a 4-dot name under ndots:5 walks the whole search list before itself.
describe('lab dns-ndots', () => {
  it('dns-ndots: 8 real queries per lookup (3 NXDOMAIN pairs first), 2 once the pod sets ndots', async () => {
    const { broken, fixed } = await roundTrip('dns-ndots');
    // It resolves all along: only the cost is wrong.
    expect(failed(broken)).toEqual(['one lookup sends kube-dns at most 2 queries (A and AAAA)']);
    const d = detail(broken, 'one lookup sends kube-dns at most 2 queries (A and AAAA)');
    expect(d).toMatch(/sent 8 queries/);
    expect(d.match(/NXDOMAIN/g)).toHaveLength(6);
    expect(detail(fixed, 'one lookup sends kube-dns at most 2 queries (A and AAAA)')).toMatch(
      /resolved as orders\.shop\.svc\.cluster\.local\. to \S+ in 2 queries$/,
    );
  });
});

// Lab dns-headless-not-ready: a headless service publishes only ready endpoints, unless told otherwise.
describe('lab dns-headless-not-ready', () => {
  it('dns-headless-not-ready: peers NXDOMAIN while unready; publishNotReadyAddresses gives their A records', async () => {
    const { broken, fixed } = await roundTrip('dns-headless-not-ready');
    expect(failed(broken)).toEqual([
      'etcd-1 resolves its peer etcd-0 by name',
      'etcd-0 resolves its peer etcd-2 by name',
    ]);
    expect(detail(broken, 'etcd-1 resolves its peer etcd-0 by name')).toMatch(
      /^etcd-0\.etcd\.data\.svc\.cluster\.local did not resolve: .*A etcd-0\.etcd\.data\.svc\.cluster\.local\. NXDOMAIN/,
    );
    // The members stay unready (their exec probe really fails), so the client service still refuses.
    const client = 'clients still get no answer from members that have not joined (the probe stays as it is)';
    expect(detail(fixed, client)).toMatch(/^connection refused/);
    expect(detail(fixed, 'etcd-1 resolves its peer etcd-0 by name')).toMatch(
      /to 10\.244\.\d+\.\d+ in 2 queries$/,
    );
  });
});

// Lab dns-srv-port-name: SRV names come from the Service's port names.
describe('lab dns-srv-port-name', () => {
  it('dns-srv-port-name: _grpc._tcp NXDOMAIN while the port is named http2, then SRV 9090', async () => {
    const { broken, fixed } = await roundTrip('dns-srv-port-name');
    const check = 'the SRV lookup _grpc._tcp.stock.warehouse.svc.cluster.local gives port 9090';
    expect(detail(broken, check)).toMatch(
      /SRV _grpc\._tcp\.stock\.warehouse\.svc\.cluster\.local\. NXDOMAIN/,
    );
    expect(detail(fixed, check)).toMatch(/to 9090 stock\.warehouse\.svc\.cluster\.local\.? in 1 query$/);
  });
});

// Lab netpol-dns-egress (was examples/scenarios/netpol-dns): default-deny egress drops DNS.
describe('lab netpol-dns-egress', () => {
  it('netpol-dns-egress: queries time out (dropped, not refused) until an egress rule allows kube-dns', async () => {
    const { broken, fixed } = await roundTrip('netpol-dns-egress');
    expect(failed(broken)).toEqual(['frontend resolves api', 'frontend reaches http://api/']);
    expect(detail(broken, 'frontend resolves api')).toMatch(
      /timed out.*A api\.shop\.svc\.cluster\.local\. TIMEOUT/,
    );
    expect(detail(fixed, 'frontend reaches http://api/')).toBe('HTTP 200 from shop/api');
  });
});

// Lab netpol-service-port: policy sees the packet after DNAT, so the container port is what counts.
describe('lab netpol-service-port', () => {
  it('netpol-service-port: the connection hangs (a dropped SYN) until the rule allows 8080', async () => {
    const { broken, fixed } = await roundTrip('netpol-service-port');
    expect(detail(broken, 'frontend reaches http://api/')).toMatch(/^no answer before the timeout/);
    expect(detail(fixed, 'frontend reaches http://api/')).toBe('HTTP 200 from shop/api');
  });
});

// Lab ipvs-scheduler: IPVS source hashing sends one client to one real server.
describe('lab ipvs-scheduler', () => {
  it('ipvs-scheduler: sh answers 9 requests from one pod, rr from all three', async () => {
    const { broken, fixed } = await roundTrip('ipvs-scheduler');
    const check = '9 requests from loadgen to http://web/ reach all 3 web pods';
    expect(detail(broken, check)).toMatch(/9 requests were answered by 1 pod \(default\/web-\S+ x9\)/);
    // rr: each of the three real servers in turn.
    expect(detail(fixed, check)).toMatch(
      /HTTP 200 from default\/web-\S+ x3, default\/web-\S+ x3, default\/web-\S+ x3$/,
    );
  });
});

// Lab conntrack-table-full: kube-proxy's conntrack.maxPerCore sizes nf_conntrack_max.
describe('lab conntrack-table-full', () => {
  it('conntrack-table-full: 16 of 24 held connections answered (8/core x 2 CPUs), all 24 at the defaults', async () => {
    const { broken, fixed } = await roundTrip('conntrack-table-full');
    const check = '24 simultaneous connections from loadgen to web are all answered';
    // nf_conntrack_max = 8 x 2 = 16: each held connection keeps an ASSURED entry; the rest are dropped.
    expect(detail(broken, check)).toMatch(/held open at once: 16 answered, 8 got no answer within 3000 ms/);
    expect(detail(fixed, check)).toMatch(/held open at once: 24 answered$/);
  });
});

// Lab mtu-vxlan: pods at MTU 1500 over flannel.1 at 1450 (emulated datapath: loopback has no such MTU).
describe('lab mtu-vxlan', () => {
  it("mtu-vxlan: a 1500-byte segment stops at flannel.1 with frag-needed; at the pods' MTU 1450 it arrives", async () => {
    const { broken, fixed } = await roundTrip('mtu-vxlan');
    const check = 'a full-size TCP segment from backup reaches the store service across the overlay';
    // flannel's vxlan backend: flannel.1 MTU = uplink 1500 - 50; the pod's MSS = 1500 - 40.
    expect(detail(broken, check)).toMatch(
      /1460 bytes of payload \(1500 bytes on the wire.*stops on node-1 at flannel\.1.*MTU 1450/,
    );
    expect(detail(fixed, check)).toMatch(/1410 bytes of payload .*pod default\/store on node-2 receives tcp/);
  });
});
