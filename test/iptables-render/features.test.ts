/**
 * Our own cases for each rule family, written from kube-proxy's proxier.go (~v1.31). Full payloads
 * are in kube-proxy's raw write order (not upstream's test sorting).
 */
import { describe, expect, it } from 'vitest';
import { categorizeEndpoints, servicePortViews } from '../../netmodel/service/index.js';
import {
  jumpInsertOrder,
  nodeContext,
  renderNode,
  renderServicePort,
  setupCommands,
} from '../../proxy/iptables/index.js';
import { clusterCfg } from '../helpers/cluster.js';
import {
  cluster,
  dedent,
  kpCluster,
  kubeProxy,
  namespaces,
  ruleJumpProblems,
  service,
  slice,
  TEST_NODE,
  testNode,
  UPSTREAM_OPTS,
} from './helpers.js';

type Obj = Record<string, unknown>;
const lines = (text: string) => text.split('\n');

describe('a small cluster, full payload in write order', () => {
  // default/web (2 endpoints), default/api (NodePort), default/sticky (unnamed port, ClientIP affinity).
  const snap = cluster(
    clusterCfg({ nodePortRange: '30000-32767' }),
    testNode('node-1', '10.0.0.11'),
    service('default', 'web', {
      clusterIP: '10.96.0.100',
      ports: [{ name: 'http', port: 80, targetPort: 8080 }],
    }),
    service('default', 'api', {
      type: 'NodePort',
      clusterIP: '10.96.0.101',
      ports: [{ name: 'http', port: 80, targetPort: 8080, nodePort: 30080 }],
    }),
    service('default', 'sticky', {
      clusterIP: '10.96.0.102',
      ports: [{ port: 6379 }],
      sessionAffinity: 'ClientIP',
    }),
    slice('default', 'web', [{ name: 'http', port: 8080 }], [{ ip: '10.244.2.7' }, { ip: '10.244.1.5' }]),
    slice('default', 'api', [{ name: 'http', port: 8080 }], [{ ip: '10.244.1.6' }]),
    slice('default', 'sticky', [{ port: 6379 }], [{ ip: '10.244.1.8' }, { ip: '10.244.2.9' }]),
  );

  it('renders kube-proxy production defaults (mark 0x00004000, --random-fully)', () => {
    const r = renderNode(snap, 'node-1');
    expect(r.restore).toBe(
      dedent(`
      *filter
      :KUBE-SERVICES - [0:0]
      :KUBE-EXTERNAL-SERVICES - [0:0]
      :KUBE-FORWARD - [0:0]
      :KUBE-NODEPORTS - [0:0]
      :KUBE-PROXY-FIREWALL - [0:0]
      :KUBE-FIREWALL - [0:0]
      -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
      -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
      -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
      -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      COMMIT
      *nat
      :KUBE-SERVICES - [0:0]
      :KUBE-NODEPORTS - [0:0]
      :KUBE-POSTROUTING - [0:0]
      :KUBE-MARK-MASQ - [0:0]
      :KUBE-EXT-KKDGWRPDK6Z5NCHS - [0:0]
      :KUBE-SVC-KKDGWRPDK6Z5NCHS - [0:0]
      :KUBE-SEP-PPNLF4JIQO5IHTTA - [0:0]
      :KUBE-SVC-BJWR5DPVIKTHVKZU - [0:0]
      :KUBE-SEP-7ZK56KWMQHYOALFJ - [0:0]
      :KUBE-SEP-HILDWSIEI4XI2ISS - [0:0]
      :KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
      :KUBE-SEP-AFGSLHOD2HFNCBX4 - [0:0]
      :KUBE-SEP-2RIJ5GIYXEFH6G4D - [0:0]
      -A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN
      -A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000
      -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
      -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
      -A KUBE-SERVICES -m comment --comment "default/api:http cluster IP" -m tcp -p tcp -d 10.96.0.101 --dport 80 -j KUBE-SVC-KKDGWRPDK6Z5NCHS
      -A KUBE-NODEPORTS -m comment --comment default/api:http -m tcp -p tcp --dport 30080 -j KUBE-EXT-KKDGWRPDK6Z5NCHS
      -A KUBE-SVC-KKDGWRPDK6Z5NCHS -m comment --comment "default/api:http cluster IP" -m tcp -p tcp -d 10.96.0.101 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
      -A KUBE-EXT-KKDGWRPDK6Z5NCHS -m comment --comment "masquerade traffic for default/api:http external destinations" -j KUBE-MARK-MASQ
      -A KUBE-EXT-KKDGWRPDK6Z5NCHS -j KUBE-SVC-KKDGWRPDK6Z5NCHS
      -A KUBE-SVC-KKDGWRPDK6Z5NCHS -m comment --comment "default/api:http -> 10.244.1.6:8080" -j KUBE-SEP-PPNLF4JIQO5IHTTA
      -A KUBE-SEP-PPNLF4JIQO5IHTTA -m comment --comment default/api:http -s 10.244.1.6 -j KUBE-MARK-MASQ
      -A KUBE-SEP-PPNLF4JIQO5IHTTA -m comment --comment default/api:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.6:8080
      -A KUBE-SERVICES -m comment --comment "default/sticky cluster IP" -m tcp -p tcp -d 10.96.0.102 --dport 6379 -j KUBE-SVC-BJWR5DPVIKTHVKZU
      -A KUBE-SVC-BJWR5DPVIKTHVKZU -m comment --comment "default/sticky cluster IP" -m tcp -p tcp -d 10.96.0.102 --dport 6379 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
      -A KUBE-SVC-BJWR5DPVIKTHVKZU -m comment --comment "default/sticky -> 10.244.1.8:6379" -m recent --name KUBE-SEP-7ZK56KWMQHYOALFJ --rcheck --seconds 10800 --reap -j KUBE-SEP-7ZK56KWMQHYOALFJ
      -A KUBE-SVC-BJWR5DPVIKTHVKZU -m comment --comment "default/sticky -> 10.244.2.9:6379" -m recent --name KUBE-SEP-HILDWSIEI4XI2ISS --rcheck --seconds 10800 --reap -j KUBE-SEP-HILDWSIEI4XI2ISS
      -A KUBE-SVC-BJWR5DPVIKTHVKZU -m comment --comment "default/sticky -> 10.244.1.8:6379" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-7ZK56KWMQHYOALFJ
      -A KUBE-SVC-BJWR5DPVIKTHVKZU -m comment --comment "default/sticky -> 10.244.2.9:6379" -j KUBE-SEP-HILDWSIEI4XI2ISS
      -A KUBE-SEP-7ZK56KWMQHYOALFJ -m comment --comment default/sticky -s 10.244.1.8 -j KUBE-MARK-MASQ
      -A KUBE-SEP-7ZK56KWMQHYOALFJ -m comment --comment default/sticky -m recent --name KUBE-SEP-7ZK56KWMQHYOALFJ --set -m tcp -p tcp -j DNAT --to-destination 10.244.1.8:6379
      -A KUBE-SEP-HILDWSIEI4XI2ISS -m comment --comment default/sticky -s 10.244.2.9 -j KUBE-MARK-MASQ
      -A KUBE-SEP-HILDWSIEI4XI2ISS -m comment --comment default/sticky -m recent --name KUBE-SEP-HILDWSIEI4XI2ISS --set -m tcp -p tcp -j DNAT --to-destination 10.244.2.9:6379
      -A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.100 --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
      -A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.100 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
      -A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.5:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-AFGSLHOD2HFNCBX4
      -A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.2.7:8080" -j KUBE-SEP-2RIJ5GIYXEFH6G4D
      -A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -s 10.244.1.5 -j KUBE-MARK-MASQ
      -A KUBE-SEP-AFGSLHOD2HFNCBX4 -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:8080
      -A KUBE-SEP-2RIJ5GIYXEFH6G4D -m comment --comment default/web:http -s 10.244.2.7 -j KUBE-MARK-MASQ
      -A KUBE-SEP-2RIJ5GIYXEFH6G4D -m comment --comment default/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.2.7:8080
      -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
      COMMIT
      `),
    );
    expect(r.sysctls.map((s) => s.name)).toEqual(['net.ipv4.conf.all.route_localnet']);
    expect(ruleJumpProblems(r.restore)).toEqual([]);
    // Deterministic.
    expect(renderNode(snap, 'node-1').restore).toBe(r.restore);
  });

  it('reports an unknown node with a stable code', () => {
    expect(() => renderNode(snap, 'nope')).toThrow(expect.objectContaining({ code: 'KPATH_E_NOT_FOUND' }));
  });
});

const base = (...extra: Obj[]) => [kpCluster(), testNode(), ...namespaces('ns1'), ...extra];
const render = (docs: Obj[], opts = {}) =>
  renderNode(cluster(...docs), TEST_NODE, { ...UPSTREAM_OPTS, ...opts });

describe('rule families', () => {
  it('multi-port and TCP+UDP on the same port number', () => {
    const r = render([
      kpCluster(),
      testNode(),
      service('kube-system', 'kube-dns', {
        clusterIP: '172.30.0.10',
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          { name: 'metrics', port: 9153, protocol: 'TCP' },
        ],
      }),
      slice(
        'kube-system',
        'kube-dns',
        [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53 },
          { name: 'metrics', port: 9153 },
        ],
        [{ ip: '10.0.0.5' }],
      ),
    ]);
    const l = lines(r.restore);
    expect(l).toContain(
      '-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp -p udp -d 172.30.0.10 --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU',
    );
    expect(l).toContain(
      '-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4',
    );
    expect(l).toContain(
      '-A KUBE-SERVICES -m comment --comment "kube-system/kube-dns:metrics cluster IP" -m tcp -p tcp -d 172.30.0.10 --dport 9153 -j KUBE-SVC-JD5MR3NA4I4DYORP',
    );
    expect(
      l.filter((x) => x.includes('-j DNAT --to-destination 10.0.0.5:53 ') || x.endsWith('10.0.0.5:53')),
    ).toHaveLength(2);
    expect(l.some((x) => x.includes('-m udp -p udp -j DNAT --to-destination 10.0.0.5:53'))).toBe(true);
    expect(ruleJumpProblems(r.restore)).toEqual([]);
  });

  it('no endpoints: REJECT in filter for every destination, no nat chains', () => {
    const r = render(
      base(
        service(
          'ns1',
          'svc1',
          {
            type: 'LoadBalancer',
            clusterIP: '172.30.0.41',
            externalIPs: ['192.168.99.11'],
            ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
          },
          { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
        ),
      ),
    );
    const c = '-m comment --comment "ns1/svc1:p80 has no endpoints"';
    expect(r.filter).toContain(
      [
        `-A KUBE-SERVICES ${c} -m tcp -p tcp -d 172.30.0.41 --dport 80 -j REJECT`,
        `-A KUBE-EXTERNAL-SERVICES ${c} -m tcp -p tcp -d 192.168.99.11 --dport 80 -j REJECT`,
        `-A KUBE-EXTERNAL-SERVICES ${c} -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT`,
        `-A KUBE-EXTERNAL-SERVICES ${c} -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j REJECT`,
      ].join('\n'),
    );
    expect(r.chains.nat).toEqual(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']);
    expect(r.nat).not.toContain('ns1/svc1');
  });

  it('eTP=Local with a local endpoint: KUBE-SVL, short-circuit rules, health check node port', () => {
    const r = render(
      base(
        service(
          'ns1',
          'svc1',
          {
            type: 'LoadBalancer',
            externalTrafficPolicy: 'Local',
            healthCheckNodePort: 30000,
            clusterIP: '172.30.0.41',
            ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
          },
          { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
        ),
        slice(
          'ns1',
          'svc1',
          [{ name: 'p80', port: 80 }],
          [
            { ip: '10.180.0.1', node: TEST_NODE },
            { ip: '10.180.0.2', node: 'other' },
          ],
        ),
      ),
    );
    const svl = 'KUBE-SVL-XPGD46QRK7WJZT7O';
    const ext = 'KUBE-EXT-XPGD46QRK7WJZT7O';
    expect(r.nat).toContain(
      [
        `-A ${ext} -m comment --comment "pod traffic for ns1/svc1:p80 external destinations" -s 10.0.0.0/8 -j KUBE-SVC-XPGD46QRK7WJZT7O`,
        `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
        `-A ${ext} -m comment --comment "route LOCAL traffic for ns1/svc1:p80 external destinations" -m addrtype --src-type LOCAL -j KUBE-SVC-XPGD46QRK7WJZT7O`,
        `-A ${ext} -j ${svl}`,
      ].join('\n'),
    );
    expect(r.nat).toContain(
      `-A ${svl} -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ`,
    );
    // The cluster chain still load-balances over both (ClusterIP traffic is iTP=Cluster).
    expect(r.nat).toContain(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.5000000000',
    );
    expect(r.filter).toContain(
      '-A KUBE-NODEPORTS -m comment --comment "ns1/svc1:p80 health check node port" -m tcp -p tcp --dport 30000 -j ACCEPT',
    );
    expect(r.filter).not.toContain('has no local endpoints');
    expect(ruleJumpProblems(r.restore)).toEqual([]);
  });

  it('iTP=Local: DROP without local endpoints, KUBE-SVL with them', () => {
    const svc = service('ns1', 'svc1', {
      internalTrafficPolicy: 'Local',
      clusterIP: '172.30.0.41',
      ports: [{ name: 'p80', port: 80 }],
    });
    const remote = render(
      base(svc, slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1', node: 'other' }])),
    );
    expect(remote.filter).toContain(
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 has no local endpoints" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j DROP',
    );
    expect(remote.chains.nat).toHaveLength(4);
    const local = render(
      base(
        svc,
        slice(
          'ns1',
          'svc1',
          [{ name: 'p80', port: 80 }],
          [
            { ip: '10.180.0.1', node: TEST_NODE },
            { ip: '10.180.0.2', node: 'other' },
          ],
        ),
      ),
    );
    expect(lines(local.nat)).toEqual(
      expect.arrayContaining([
        '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVL-XPGD46QRK7WJZT7O',
        '-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
        '-A KUBE-SVL-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
      ]),
    );
    expect(local.nat).not.toContain('KUBE-SVC-');
    expect(local.nat).not.toContain('10.180.0.2');
  });

  it('masqueradeAll: the masquerade rule has no source match', () => {
    const r = render(
      base(
        kubeProxy({ iptables: { masqueradeAll: true } }),
        service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] }),
        slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]),
      ),
    );
    expect(lines(r.nat)).toContain(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ',
    );
  });

  it('falls back to serving+terminating endpoints only when none is ready', () => {
    const svc = service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] });
    const r = render(
      base(
        svc,
        slice(
          'ns1',
          'svc1',
          [{ name: 'p80', port: 80 }],
          [
            { ip: '10.180.0.1', ready: false, serving: true, terminating: true },
            { ip: '10.180.0.2', ready: false, serving: false, terminating: true },
            { ip: '10.180.0.3', ready: false, serving: false, terminating: false },
          ],
        ),
      ),
    );
    expect(r.nat).toContain(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    );
    expect(r.nat).not.toContain('10.180.0.2');
    const withReady = render(
      base(
        svc,
        slice(
          'ns1',
          'svc1',
          [{ name: 'p80', port: 80 }],
          [{ ip: '10.180.0.1', ready: false, serving: true, terminating: true }, { ip: '10.180.0.4' }],
        ),
      ),
    );
    expect(withReady.nat).not.toContain('10.180.0.1');
  });

  it('localhost NodePorts off: no KUBE-FIREWALL, loopback excluded from the nodeports tail rule', () => {
    const docs = base(
      kubeProxy({ iptables: { localhostNodePorts: false } }),
      service('ns1', 'svc1', {
        type: 'NodePort',
        clusterIP: '172.30.0.41',
        ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      }),
      slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]),
    );
    const r = render(docs, { nfacct: true });
    expect(r.chains.filter).not.toContain('KUBE-FIREWALL');
    expect(r.sysctls).toEqual([]);
    expect(r.nat).toContain(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS',
    );
    expect(r.nat).not.toContain('localhost_nps_accepted_pkts');
  });

  it('nodePortAddresses: one tail rule per matching node address, loopback first', () => {
    const svc = [
      service('ns1', 'svc1', {
        type: 'NodePort',
        clusterIP: '172.30.0.41',
        ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      }),
      slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]),
    ];
    const tail = (ip: string) =>
      `-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d ${ip} -j KUBE-NODEPORTS`;
    const nodeOnly = render(base(kubeProxy({ nodePortAddresses: ['192.168.0.0/24'] }), ...svc));
    expect(lines(nodeOnly.nat).filter((l) => l.includes('service nodeports'))).toEqual([tail('192.168.0.2')]);
    // No 127.0.0.1 in the list: localhost NodePorts are off.
    expect(nodeOnly.chains.filter).not.toContain('KUBE-FIREWALL');
    const both = render(base(kubeProxy({ nodePortAddresses: ['127.0.0.0/8', '192.168.0.0/24'] }), ...svc));
    expect(lines(both.nat).filter((l) => l.includes('service nodeports'))).toEqual([
      tail('127.0.0.1'),
      tail('192.168.0.2'),
    ]);
    expect(both.chains.filter).toContain('KUBE-FIREWALL');
    const primary = render(base(kubeProxy({ nodePortAddresses: ['primary'] }), ...svc));
    expect(lines(primary.nat).filter((l) => l.includes('service nodeports'))).toEqual([tail('192.168.0.2')]);
  });

  it('loadBalancerSourceRanges containing the node IP also allow the LB IP as source', () => {
    const r = render(
      base(
        service(
          'ns1',
          'svc1',
          {
            type: 'LoadBalancer',
            clusterIP: '172.30.0.41',
            loadBalancerSourceRanges: ['192.168.0.0/24', '203.0.113.0/25'],
            ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
          },
          { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
        ),
        slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]),
      ),
    );
    const fw = 'KUBE-FW-XPGD46QRK7WJZT7O';
    expect(r.nat).toContain(
      [
        `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 192.168.0.0/24 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
        `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 203.0.113.0/25 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
        `-A ${fw} -m comment --comment "ns1/svc1:p80 loadbalancer IP" -s 1.2.3.4 -j KUBE-EXT-XPGD46QRK7WJZT7O`,
        `-A ${fw} -m comment --comment "other traffic to ns1/svc1:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
      ].join('\n'),
    );
    // NodePorts bypass the source ranges.
    expect(r.nat).toContain(
      '-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-XPGD46QRK7WJZT7O',
    );
    expect(ruleJumpProblems(r.restore)).toEqual([]);
  });

  it('large-cluster mode drops per-endpoint comments above 1000 endpoints', () => {
    const eps = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.180.${i >> 8}.${i & 255}` }));
    const r = render(
      base(
        service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] }),
        slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], eps),
      ),
    );
    expect(r.largeClusterMode).toBe(true);
    expect(r.totalEndpoints).toBe(1001);
    const l = lines(r.nat);
    expect(l).toContain('-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1 -j KUBE-MARK-MASQ');
    expect(l).toContain('-A KUBE-SEP-SXIVWICOYRO3J4NJ -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80');
    expect(l.filter((x) => x.startsWith('-A KUBE-SVC-XPGD46QRK7WJZT7O -m statistic'))).toHaveLength(1000);
    expect(
      l.some((x) =>
        x.startsWith(
          '-A KUBE-SVC-XPGD46QRK7WJZT7O -m statistic --mode random --probability 0.0009990010 -j KUBE-SEP-',
        ),
      ),
    ).toBe(true);
    // The masquerade and service rules keep their comments.
    expect(l).toContain(
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    );
    expect(
      render(
        base(
          service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] }),
          slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], eps.slice(0, 1000)),
        ),
      ).largeClusterMode,
    ).toBe(false);
  });

  it('local-traffic detectors', () => {
    const svc = [
      service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80 }] }),
      slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]),
    ];
    const masqOf = (docs: Obj[]) =>
      lines(render(docs).nat).find((l) => l.startsWith('-A KUBE-SVC-') && l.endsWith('-j KUBE-MARK-MASQ'));
    const m =
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80';
    expect(
      masqOf([
        kpCluster(),
        testNode(TEST_NODE, '192.168.0.2', '10.0.7.0/24'),
        ...namespaces('ns1'),
        kubeProxy({ detectLocalMode: 'NodeCIDR' }),
        ...svc,
      ]),
    ).toBe(`${m} ! -s 10.0.7.0/24 -j KUBE-MARK-MASQ`);
    expect(
      masqOf(
        base(
          kubeProxy({ detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cni0' } }),
          ...svc,
        ),
      ),
    ).toBe(`${m} ! -i cni0 -j KUBE-MARK-MASQ`);
    expect(
      masqOf(
        base(
          kubeProxy({ detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'veth' } }),
          ...svc,
        ),
      ),
    ).toBe(`${m} ! -i veth+ -j KUBE-MARK-MASQ`);
    // No detector (kube-proxy's no-op detector): no masquerade rule, no pod short-circuit.
    const snap = cluster(...base(...svc));
    const ctx = { ...nodeContext(snap, TEST_NODE), detector: null };
    const [view] = servicePortViews(snap, TEST_NODE);
    const rules = renderServicePort(ctx, view!, categorizeEndpoints(view!), false);
    expect(
      rules.natChainRules.some((l) => l.includes('KUBE-MARK-MASQ') && l.startsWith('-A KUBE-SVC-')),
    ).toBe(false);
  });

  it('IPv6 proxier: ::1 excluded, no KUBE-FIREWALL, bracketed endpoints', () => {
    const r = renderNode(
      cluster(
        kpCluster({ podCIDR: '10.0.0.0/8,fd00:10::/64', serviceCIDR: '172.30.0.0/16,fd00:172:30::/112' }),
        {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: TEST_NODE },
          status: {
            addresses: [
              { type: 'InternalIP', address: '192.168.0.2' },
              { type: 'InternalIP', address: '2001:db8::1' },
            ],
          },
        },
        ...namespaces('ns1'),
        service('ns1', 'svc1', {
          ipFamilies: ['IPv6'],
          clusterIP: 'fd00:172:30::41',
          ports: [{ name: 'p80', port: 80 }],
        }),
        slice('ns1', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: 'fd00:10::1' }], 1, 'IPv6'),
      ),
      TEST_NODE,
      { ...UPSTREAM_OPTS, family: 6 },
    );
    expect(r.chains.filter).not.toContain('KUBE-FIREWALL');
    expect(r.nat).toContain('-m addrtype --dst-type LOCAL ! -d ::1/128 -j KUBE-NODEPORTS');
    expect(r.nat).toContain('-s fd00:10::1 -j KUBE-MARK-MASQ');
    expect(r.nat).toContain('-j DNAT --to-destination [fd00:10::1]:80');
    expect(r.nat).toContain('! -s fd00:10::/64 -j KUBE-MARK-MASQ');
  });
});

describe('built-in chain jumps', () => {
  it('final order with kubelet first matches a real node', () => {
    const r = render(base());
    expect(r.jumps.map((j) => `-A ${j.chain} ${j.rule}`)).toEqual([
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A INPUT -j KUBE-FIREWALL',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -j KUBE-FIREWALL',
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]);
    expect(r.jumps.slice(11).every((j) => j.table === 'nat')).toBe(true);
    expect(r.canaries).toEqual([
      { table: 'mangle', chain: 'KUBE-PROXY-CANARY' },
      { table: 'nat', chain: 'KUBE-PROXY-CANARY' },
      { table: 'filter', chain: 'KUBE-PROXY-CANARY' },
    ]);
    const first = renderNode(cluster(...base()), TEST_NODE, { kubeletJumpsFirst: false }).jumps;
    expect(first[0]!.target).toBe('KUBE-FIREWALL');
    expect(jumpInsertOrder()).toHaveLength(14);
    expect(setupCommands()).toContain(
      "iptables -w -t nat -I POSTROUTING -m comment --comment 'kubernetes postrouting rules' -j KUBE-POSTROUTING",
    );
  });
});
