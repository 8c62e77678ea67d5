/**
 * The ipvs proxier, cluster in, virtual servers / ipsets / rules out. The expectations restate those of
 * kube-proxy's pkg/proxy/ipvs/proxier_test.go (~v1.31) where a test exists there (named in each case),
 * and otherwise follow proxier.go's syncProxyRules and writeIptablesRules line by line.
 */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import type { IpvsServiceSpec } from '../../netmodel/ipvs/types.js';
import { KernelNode } from '../../netmodel/kernel/index.js';
import { renderIpsetSave } from '../../netmodel/netfilter/index.js';
import {
  applyIpvsNetfilter,
  computeIpvsNode,
  type IpvsNodeState,
  renderIpvsNode,
} from '../../proxy/ipvs/index.js';
import {
  allKinds,
  ipvsProxy,
  kpCluster,
  namespaces,
  p80,
  service,
  slice,
  snap,
  TEST_NODE,
  testNode,
} from './fixtures.js';

type Obj = Record<string, unknown>;

/** `ip:port` of each real server (weight appended when not 1) of the virtual server at vip:port. */
function rs(st: IpvsNodeState, vip: string, port: number, protocol = 'TCP'): string[] {
  const vs = st.virtualServers.find(
    (v) => v.spec.vip.text === vip && v.spec.port === port && v.spec.protocol === protocol,
  );
  if (!vs) throw new Error(`no virtual server ${protocol} ${vip}:${port}`);
  return vs.spec.destinations.map((d) => `${d.ip.text}:${d.port}${d.weight === 1 ? '' : ` w${d.weight}`}`);
}

const members = (st: IpvsNodeState, set: string) => (st.sets.get(set) ?? []).map((m) => m.text);

/** The rules of one chain in one table: `[target, set or source]` per rule, in order. */
function chain(restore: string, table: 'nat' | 'filter', name: string): string[][] {
  const block = restore.slice(restore.indexOf(`*${table}\n`));
  const body = block.slice(0, block.indexOf('COMMIT\n'));
  return body
    .split('\n')
    .filter((l) => l.startsWith(`-A ${name} `))
    .map((l) => {
      const target = /-j (\S+)/.exec(l)![1]!;
      const set = /--match-set (\S+)/.exec(l)?.[1] ?? /-s (\S+)/.exec(l)?.[1] ?? '';
      return [target, set];
    });
}

function oneService(svc: Obj, eps: Obj, extra: Obj[] = [], proxy: Obj = {}): Obj[] {
  return [kpCluster(), ipvsProxy(proxy), testNode(), ...namespaces('ns1'), svc, eps, ...extra];
}

describe('virtual servers, real servers and ipsets (proxier_test.go)', () => {
  it('TestOnlyLocalNodePorts: NodePort eTP Local on the nodePortAddresses IP, local endpoint only', () => {
    const docs = [
      kpCluster(),
      ipvsProxy({ nodePortAddresses: ['100.101.102.0/24'] }),
      testNode(TEST_NODE, '100.101.102.103'),
      ...namespaces('ns1'),
      service('ns1', 'svc1', {
        type: 'NodePort',
        clusterIP: '172.30.0.41',
        externalTrafficPolicy: 'Local',
        ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      }),
      slice('ns1', 'svc1', p80, [
        { ip: '10.180.0.1', node: TEST_NODE },
        { ip: '10.180.1.1', node: 'other-node' },
      ]),
    ];
    const r = renderIpvsNode(snap(...docs), TEST_NODE, {
      localAddresses: [parseIP('100.101.102.103'), parseIP('2001:db8::')],
    });
    const st = r.state;
    // "Expect 2 services and 1 destination"
    expect(st.virtualServers).toHaveLength(2);
    expect(rs(st, '100.101.102.103', 3001)).toEqual(['10.180.0.1:80']);
    expect(members(st, 'KUBE-NODE-PORT-TCP')).toEqual(['3001']);
    expect(members(st, 'KUBE-NODE-PORT-LOCAL-TCP')).toEqual(['3001']);
    expect(chain(r.rules.restore, 'nat', 'KUBE-SERVICES')).toEqual([
      ['RETURN', '127.0.0.0/8'],
      ['KUBE-MARK-MASQ', 'KUBE-CLUSTER-IP'],
      ['KUBE-NODE-PORT', ''],
      ['ACCEPT', 'KUBE-CLUSTER-IP'],
    ]);
    expect(chain(r.rules.restore, 'nat', 'KUBE-NODE-PORT')).toEqual([
      ['RETURN', 'KUBE-NODE-PORT-LOCAL-TCP'],
      ['KUBE-MARK-MASQ', 'KUBE-NODE-PORT-TCP'],
    ]);
    expect(chain(r.rules.restore, 'filter', 'KUBE-NODE-PORT')).toEqual([
      ['ACCEPT', 'KUBE-HEALTH-CHECK-NODE-PORT'],
    ]);
  });

  it('TestHealthCheckNodePort: only eTP Local load balancers put their health-check port in the set', () => {
    const lb = (name: string, hc: number, local: boolean) =>
      service('ns1', name, {
        type: 'LoadBalancer',
        externalTrafficPolicy: local ? 'Local' : 'Cluster',
        ...(local ? { healthCheckNodePort: hc } : {}),
        ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
      });
    const st = computeIpvsNode(
      snap(
        kpCluster(),
        ipvsProxy(),
        testNode(),
        ...namespaces('ns1'),
        lb('valid-svc1', 30000, true),
        lb('valid-svc2', 30001, true),
        lb('invalid-svc3', 30002, false),
      ),
      TEST_NODE,
    );
    expect(members(st, 'KUBE-HEALTH-CHECK-NODE-PORT')).toEqual(['30000', '30001']);
  });

  it('TestLoadBalancerSourceRanges: LB, FW and SOURCE-CIDR members; node outside the ranges is dropped by KUBE-IPVS-OUT-FILTER', () => {
    const r = renderIpvsNode(
      snap(
        ...oneService(
          service(
            'ns1',
            'svc1',
            {
              type: 'LoadBalancer',
              clusterIP: '172.30.0.41',
              allocateLoadBalancerNodePorts: false,
              loadBalancerSourceRanges: ['10.0.0.0/8'],
              ports: p80,
            },
            { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
          ),
          slice('ns1', 'svc1', p80, [{ ip: '10.180.0.1' }]),
        ),
      ),
      TEST_NODE,
    );
    const st = r.state;
    expect(rs(st, '1.2.3.4', 80)).toEqual(['10.180.0.1:80']);
    expect(members(st, 'KUBE-LOAD-BALANCER')).toEqual(['1.2.3.4,tcp:80']);
    expect(members(st, 'KUBE-LOAD-BALANCER-FW')).toEqual(['1.2.3.4,tcp:80']);
    expect(members(st, 'KUBE-LOAD-BALANCER-SOURCE-CIDR')).toEqual(['1.2.3.4,tcp:80,10.0.0.0/8']);
    expect(members(st, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual([]);
    expect(chain(r.rules.restore, 'nat', 'KUBE-SERVICES')).toEqual([
      ['RETURN', '127.0.0.0/8'],
      ['KUBE-LOAD-BALANCER', 'KUBE-LOAD-BALANCER'],
      ['KUBE-MARK-MASQ', 'KUBE-CLUSTER-IP'],
      ['KUBE-NODE-PORT', ''],
      ['ACCEPT', 'KUBE-CLUSTER-IP'],
      ['ACCEPT', 'KUBE-LOAD-BALANCER'],
    ]);
    expect(chain(r.rules.restore, 'filter', 'KUBE-PROXY-FIREWALL')).toEqual([
      ['KUBE-SOURCE-RANGES-FIREWALL', 'KUBE-LOAD-BALANCER-FW'],
    ]);
    expect(chain(r.rules.restore, 'filter', 'KUBE-SOURCE-RANGES-FIREWALL')).toEqual([
      ['RETURN', 'KUBE-LOAD-BALANCER-SOURCE-CIDR'],
      ['DROP', ''],
    ]);
    // proxier.go: the node IP 192.168.0.2 is in no source range, so the node may not reach the LB.
    expect(r.rules.filter).toContain(
      '-A KUBE-IPVS-OUT-FILTER -s 1.2.3.4 -m ipvs --vaddr 1.2.3.4 --vproto tcp --vport 80 -j DROP\n',
    );
  });

  it('a source range holding the node IP adds KUBE-LOAD-BALANCER-SOURCE-IP lb,proto:port,lb instead', () => {
    const st = computeIpvsNode(snap(...allKinds()), TEST_NODE);
    expect(members(st, 'KUBE-LOAD-BALANCER-SOURCE-IP')).toEqual(['5.6.7.8,tcp:80,5.6.7.8']);
    expect(st.lbNoNodeAccess).toEqual([]);
  });

  it('TestAcceptIPVSTraffic: the order of KUBE-SERVICES with ClusterIP, LoadBalancer, NodePort and external IPs', () => {
    const docs: Obj[] = [kpCluster(), ipvsProxy(), testNode(), ...namespaces('ns1')];
    const infos = [
      ['ClusterIP', '172.30.0.40', 'svc1', '10.180.0.1'],
      ['LoadBalancer', '172.30.0.41', 'svc2', '10.180.0.2'],
      ['NodePort', '172.30.0.42', 'svc3', '10.180.0.3'],
    ] as const;
    for (const [type, ip, name, ep] of infos) {
      docs.push(
        service(
          'ns1',
          name,
          {
            type,
            clusterIP: ip,
            ...(type === 'ClusterIP' ? { externalIPs: ['5.6.7.8'] } : {}),
            ports: [
              {
                name: 'p80',
                port: 80,
                protocol: 'TCP',
                ...(type === 'ClusterIP' ? {} : { nodePort: 30080 + docs.length }),
              },
            ],
          },
          type === 'LoadBalancer' ? { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } } : undefined,
        ),
        slice('ns1', name, p80, [{ ip: ep }]),
      );
    }
    const r = renderIpvsNode(snap(...docs), TEST_NODE);
    expect(chain(r.rules.restore, 'nat', 'KUBE-SERVICES')).toEqual([
      ['RETURN', '127.0.0.0/8'],
      ['KUBE-LOAD-BALANCER', 'KUBE-LOAD-BALANCER'],
      ['KUBE-MARK-MASQ', 'KUBE-CLUSTER-IP'],
      ['KUBE-MARK-MASQ', 'KUBE-EXTERNAL-IP'],
      ['ACCEPT', 'KUBE-EXTERNAL-IP'],
      ['ACCEPT', 'KUBE-EXTERNAL-IP'],
      ['KUBE-NODE-PORT', ''],
      ['ACCEPT', 'KUBE-CLUSTER-IP'],
      ['ACCEPT', 'KUBE-LOAD-BALANCER'],
    ]);
  });

  it('TestOnlyLocalLoadBalancing: an eTP Local LB sends to local endpoints and skips the masquerade', () => {
    const r = renderIpvsNode(
      snap(
        ...oneService(
          service(
            'ns1',
            'svc1',
            {
              type: 'LoadBalancer',
              clusterIP: '172.30.0.41',
              externalTrafficPolicy: 'Local',
              healthCheckNodePort: 30100,
              ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
            },
            { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
          ),
          slice('ns1', 'svc1', p80, [
            { ip: '10.180.0.1', node: TEST_NODE },
            { ip: '10.180.1.1', node: 'other-node' },
          ]),
        ),
      ),
      TEST_NODE,
    );
    expect(rs(r.state, '1.2.3.4', 80)).toEqual(['10.180.0.1:80']);
    // The ClusterIP keeps Cluster policy: both endpoints.
    expect(rs(r.state, '172.30.0.41', 80)).toEqual(['10.180.0.1:80', '10.180.1.1:80']);
    expect(members(r.state, 'KUBE-LOAD-BALANCER')).toEqual(['1.2.3.4,tcp:80']);
    expect(members(r.state, 'KUBE-LOAD-BALANCER-LOCAL')).toEqual(['1.2.3.4,tcp:80']);
    expect(chain(r.rules.restore, 'nat', 'KUBE-LOAD-BALANCER')).toEqual([
      ['RETURN', 'KUBE-LOAD-BALANCER-LOCAL'],
      ['KUBE-MARK-MASQ', ''],
    ]);
  });

  it('TestEndpointSliceE2E: one virtual server, real servers in ascending order, the local one in KUBE-LOOP-BACK', () => {
    const st = computeIpvsNode(
      snap(
        ...oneService(
          service('ns1', 'svc1', {
            clusterIP: '172.30.1.1',
            ports: [{ name: '', port: 80, protocol: 'TCP' }],
          }),
          slice(
            'ns1',
            'svc1',
            [{ port: 80 }],
            [
              { ip: '10.0.1.1', node: TEST_NODE },
              { ip: '10.0.1.2', node: 'node2' },
              { ip: '10.0.1.3', node: 'node3' },
              { ip: '10.0.1.4', node: 'node3', ready: false },
            ],
          ),
        ),
      ),
      TEST_NODE,
    );
    expect(st.virtualServers).toHaveLength(1);
    expect(rs(st, '172.30.1.1', 80)).toEqual(['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80']);
    expect(members(st, 'KUBE-LOOP-BACK')).toEqual(['10.0.1.1,tcp:80,10.0.1.1']);
  });

  it.each([
    ['Cluster', [TEST_NODE, 'node1', 'node2'], 1, ['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80']],
    ['Cluster', ['node0', 'node1', 'node2'], 0, ['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80']],
    ['Local', [TEST_NODE, 'node1', 'node2'], 1, ['10.0.1.1:80']],
    ['Local', ['node0', 'node1', 'node2'], 0, []],
  ] as const)(
    'TestTestInternalTrafficPolicyE2E: iTP %s on nodes %j: %d loop-back entries, real servers %j',
    (policy, nodes, loopback, servers) => {
      const st = computeIpvsNode(
        snap(
          ...oneService(
            service('ns1', 'svc1', {
              clusterIP: '172.30.1.1',
              internalTrafficPolicy: policy,
              ports: [{ name: '', port: 80, protocol: 'TCP' }],
            }),
            slice(
              'ns1',
              'svc1',
              [{ port: 80 }],
              nodes.map((n, i) => ({ ip: `10.0.1.${i + 1}`, node: n })),
            ),
          ),
        ),
        TEST_NODE,
      );
      expect(members(st, 'KUBE-LOOP-BACK')).toHaveLength(loopback);
      expect(rs(st, '172.30.1.1', 80)).toEqual(servers);
    },
  );

  const readyAndTerminating = (etp: 'Cluster' | 'Local') =>
    oneService(
      service('ns1', 'svc1', {
        type: 'NodePort',
        clusterIP: '172.30.1.1',
        externalTrafficPolicy: etp,
        externalIPs: ['1.2.3.4'],
        ports: [{ name: '', port: 80, protocol: 'TCP', nodePort: 30080 }],
      }),
      slice(
        'ns1',
        'svc1',
        [{ port: 80 }],
        [
          { ip: '10.0.1.1', node: TEST_NODE, ready: true, serving: true, terminating: false },
          { ip: '10.0.1.2', node: TEST_NODE, ready: true, serving: true, terminating: false },
          { ip: '10.0.1.3', node: TEST_NODE, ready: false, serving: true, terminating: true },
          { ip: '10.0.1.4', node: TEST_NODE, ready: false, serving: false, terminating: true },
          { ip: '10.0.1.5', node: 'another-node', ready: true, serving: true, terminating: false },
        ],
      ),
    );

  it('Test_EndpointSliceReadyAndTerminatingCluster: ready endpoints only; every local one in KUBE-LOOP-BACK', () => {
    const st = computeIpvsNode(snap(...readyAndTerminating('Cluster')), TEST_NODE);
    expect(members(st, 'KUBE-LOOP-BACK')).toHaveLength(4);
    expect(rs(st, '172.30.1.1', 80)).toEqual(['10.0.1.1:80', '10.0.1.2:80', '10.0.1.5:80']);
    expect(rs(st, '1.2.3.4', 80)).toEqual(['10.0.1.1:80', '10.0.1.2:80', '10.0.1.5:80']);
  });

  it('Test_EndpointSliceReadyAndTerminatingLocal: the external IP uses the local ready endpoints', () => {
    const st = computeIpvsNode(snap(...readyAndTerminating('Local')), TEST_NODE);
    expect(rs(st, '172.30.1.1', 80)).toEqual(['10.0.1.1:80', '10.0.1.2:80', '10.0.1.5:80']);
    expect(rs(st, '1.2.3.4', 80)).toEqual(['10.0.1.1:80', '10.0.1.2:80']);
  });

  it('only serving+terminating endpoints: the proxier falls back to them (CategorizeEndpoints)', () => {
    const st = computeIpvsNode(
      snap(
        ...oneService(
          service('ns1', 'svc1', {
            clusterIP: '172.30.1.1',
            ports: [{ name: '', port: 80, protocol: 'TCP' }],
          }),
          slice(
            'ns1',
            'svc1',
            [{ port: 80 }],
            [
              { ip: '10.0.1.1', node: TEST_NODE, ready: false, serving: true, terminating: true },
              { ip: '10.0.1.2', node: 'n2', ready: false, serving: false, terminating: true },
            ],
          ),
        ),
      ),
      TEST_NODE,
    );
    expect(rs(st, '172.30.1.1', 80)).toEqual(['10.0.1.1:80']);
  });
});

describe('behaviour of proxier.go without an upstream table', () => {
  it('eTP Local with no local endpoint falls back to the cluster endpoints (PR 97081), unlike iptables mode', () => {
    const st = computeIpvsNode(
      snap(
        ...oneService(
          service('ns1', 'svc1', {
            type: 'NodePort',
            clusterIP: '172.30.1.1',
            externalTrafficPolicy: 'Local',
            ports: [{ name: 'p80', port: 80, nodePort: 30080 }],
          }),
          slice('ns1', 'svc1', p80, [{ ip: '10.0.1.9', node: 'other-node' }]),
        ),
      ),
      TEST_NODE,
    );
    const np = st.virtualServers.find((v) => v.kind === 'NodePort')!;
    expect(np.localFallback).toBe(true);
    expect(np.spec.destinations.map((d) => d.ip.text)).toEqual(['10.0.1.9']);
  });

  it('ClientIP affinity is persistence with the timeout; mh sets the mh-port flag', () => {
    const docs = (sched: string) =>
      oneService(
        service('ns1', 'svc1', {
          clusterIP: '172.30.1.1',
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } },
          ports: p80,
        }),
        slice('ns1', 'svc1', p80, [{ ip: '10.0.1.1' }]),
        [],
        { ipvs: { scheduler: sched } },
      );
    const rr = computeIpvsNode(snap(...docs('rr')), TEST_NODE).virtualServers[0]!.spec;
    expect(rr).toMatchObject({
      scheduler: 'rr',
      flags: [],
      persistence: { timeoutSeconds: 600, netmaskBits: 32 },
    });
    const mh = computeIpvsNode(snap(...docs('mh')), TEST_NODE).virtualServers[0]!.spec;
    expect(mh).toMatchObject({ scheduler: 'mh', flags: ['mh-port'] });
  });

  it('node ports get a virtual server on every non-loopback local address, none on 127.0.0.1', () => {
    const st = computeIpvsNode(snap(...allKinds()), TEST_NODE, {
      localAddresses: [parseIP('127.0.0.1'), parseIP('192.168.0.2'), parseIP('10.244.0.1'), parseIP('::1')],
    });
    const np = st.virtualServers.filter((v) => v.kind === 'NodePort' && v.spec.port === 3002);
    expect(np.map((v) => v.spec.vip.text)).toEqual(['10.244.0.1', '192.168.0.2']);
    // SCTP node ports are per node IP (hash:ip,port).
    expect(members(st, 'KUBE-NODE-PORT-SCTP-HASH')).toEqual([
      '10.244.0.1,sctp:3004',
      '192.168.0.2,sctp:3004',
    ]);
  });

  it('an external IP already on a node interface is not bound to kube-ipvs0 but still served', () => {
    const st = computeIpvsNode(snap(...allKinds()), TEST_NODE, {
      localAddresses: [parseIP('192.168.0.2'), parseIP('192.168.99.22')],
    });
    expect(st.dummyAddresses.map((a) => a.text)).not.toContain('192.168.99.22');
    expect(st.dummyAddresses.map((a) => a.text)).toContain('192.168.99.33');
    expect(rs(st, '192.168.99.22', 80)).toEqual(['10.180.0.2:80']);
    expect(members(st, 'KUBE-IPVS-IPS')).toEqual(st.dummyAddresses.map((a) => a.text));
  });

  it('graceful termination: a removed TCP real server stays at weight 0 while it has connections', () => {
    const before = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    // ns1/svc1 loses 10.180.0.9; ns3/svc3 (UDP, SCTP) loses its only endpoint.
    const next = allKinds().map((d) => {
      const m = d.metadata as { name?: string } | undefined;
      if (d.kind === 'EndpointSlice' && m?.name === 'svc1-1')
        return slice('ns1', 'svc1', p80, [{ ip: '10.180.0.1', node: TEST_NODE }]);
      if (d.kind === 'EndpointSlice' && m?.name === 'svc3-1')
        return slice(
          'ns3',
          'svc3',
          [
            { name: 'dns', port: 5353, protocol: 'UDP' },
            { name: 'sctp', port: 7777, protocol: 'SCTP' },
          ],
          [],
        );
      return d;
    });
    const busy = computeIpvsNode(snap(...next), TEST_NODE, { previous: before.services });
    expect(rs(busy, '172.30.0.41', 80)).toEqual(['10.180.0.1:80', '10.180.0.9:80 w0']);
    expect(rs(busy, '172.30.0.43', 53, 'UDP')).toEqual([]);
    expect(rs(busy, '172.30.0.43', 7777, 'SCTP')).toEqual([]);
    const idle = computeIpvsNode(snap(...next), TEST_NODE, {
      previous: before.services,
      connections: (_vs: IpvsServiceSpec) => 0,
    });
    expect(rs(idle, '172.30.0.41', 80)).toEqual(['10.180.0.1:80']);
    // A first sync has no weight-0 servers even for terminating endpoints.
    expect(rs(before.state, '172.30.0.42', 80)).toEqual(['10.180.0.2:80', '10.180.1.2:80']);
  });

  it('sysctls and timeouts: strictARP adds arp_ignore/arp_announce; conn_reuse_mode only on 4.1-5.8', () => {
    const plain = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    expect(plain.sysctls.map((s) => `${s.name}=${s.value}`)).toEqual([
      'net.ipv4.vs.conntrack=1',
      'net.ipv4.vs.expire_nodest_conn=1',
      'net.ipv4.vs.expire_quiescent_template=1',
      'net.ipv4.ip_forward=1',
    ]);
    expect(plain.timeouts).toBeNull();
    const strict = renderIpvsNode(
      snap(...allKinds({ ipvs: { scheduler: 'rr', strictARP: true, tcpTimeout: '15m', udpTimeout: '30s' } })),
      TEST_NODE,
      { kernelVersion: '5.4' },
    );
    expect(strict.sysctls.map((s) => `${s.name}=${s.value}`)).toEqual([
      'net.ipv4.vs.conntrack=1',
      'net.ipv4.vs.conn_reuse_mode=0',
      'net.ipv4.vs.expire_nodest_conn=1',
      'net.ipv4.vs.expire_quiescent_template=1',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.arp_ignore=1',
      'net.ipv4.conf.all.arp_announce=2',
    ]);
    expect(strict.timeouts).toEqual({ tcp: 900, tcpFin: 0, udp: 30 });
  });

  it('TestCreateAndLinkKubeChain: chain declarations in kube-proxy order; jumps prepended', () => {
    const r = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    expect(r.rules.nat.split('\n').filter((l) => l.startsWith(':'))).toEqual([
      ':KUBE-SERVICES - [0:0]',
      ':KUBE-POSTROUTING - [0:0]',
      ':KUBE-NODE-PORT - [0:0]',
      ':KUBE-LOAD-BALANCER - [0:0]',
      ':KUBE-MARK-MASQ - [0:0]',
    ]);
    expect(r.rules.filter.split('\n').filter((l) => l.startsWith(':'))).toEqual([
      ':KUBE-FORWARD - [0:0]',
      ':KUBE-NODE-PORT - [0:0]',
      ':KUBE-PROXY-FIREWALL - [0:0]',
      ':KUBE-SOURCE-RANGES-FIREWALL - [0:0]',
      ':KUBE-IPVS-FILTER - [0:0]',
      ':KUBE-IPVS-OUT-FILTER - [0:0]',
    ]);
    expect(r.jumps.filter((j) => j.table === 'filter' && j.chain === 'INPUT').map((j) => j.target)).toEqual([
      'KUBE-IPVS-FILTER',
      'KUBE-PROXY-FIREWALL',
      'KUBE-NODE-PORT',
    ]);
  });

  it('masquerade of ClusterIP traffic: with the local-traffic detector, or every source with masqueradeAll', () => {
    const line = (proxy: Obj) =>
      renderIpvsNode(snap(...allKinds(proxy)), TEST_NODE)
        .rules.nat.split('\n')
        .find((l) => l.includes('--match-set KUBE-CLUSTER-IP') && l.includes('KUBE-MARK-MASQ'));
    expect(line({})).toContain('--match-set KUBE-CLUSTER-IP dst,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ');
    expect(line({ iptables: { masqueradeAll: true } })).toContain(
      '--match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ',
    );
  });

  it('a later sync on the same node: jumps ensured once, set members replaced, rules unchanged', () => {
    const k = new KernelNode({ name: TEST_NODE });
    const first = renderIpvsNode(snap(...allKinds()), TEST_NODE);
    applyIpvsNetfilter(k, first);
    const rulesBefore = k.save();
    const next = allKinds().map((d) =>
      d.kind === 'EndpointSlice' && (d.metadata as { name: string }).name === 'svc1-1'
        ? slice('ns1', 'svc1', p80, [{ ip: '10.180.0.8', node: TEST_NODE }])
        : d,
    );
    applyIpvsNetfilter(k, renderIpvsNode(snap(...next), TEST_NODE));
    expect(k.save()).toBe(rulesBefore);
    expect(k.save().match(/-j KUBE-IPVS-FILTER/g)).toHaveLength(1);
    const sets = renderIpsetSave(k.nf.sets);
    expect(sets).toContain('add KUBE-LOOP-BACK 10.180.0.8,tcp:80,10.180.0.8\n');
    expect(sets).not.toContain('10.180.0.1,tcp:80,10.180.0.1');
  });
});
