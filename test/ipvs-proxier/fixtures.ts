/**
 * Clusters for the ipvs proxier tests, shaped like kube-proxy's proxier_test.go fixtures (pods in
 * 10.0.0.0/8, services in 172.30.0.0/16, node test-node at 192.168.0.2), built through the YAML pipeline.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import {
  cluster,
  kpCluster,
  kubeProxy,
  namespaces,
  service,
  slice,
  TEST_NODE,
  testNode,
} from '../iptables-render/helpers.js';

type Obj = Record<string, unknown>;

export { cluster, kpCluster, kubeProxy, namespaces, service, slice, TEST_NODE, testNode };

export function ipvsProxy(extra: Obj = {}): Obj {
  return kubeProxy({ mode: 'ipvs', clusterCIDR: '10.0.0.0/8', ipvs: { scheduler: 'rr' }, ...extra });
}

export const p80 = [{ name: 'p80', port: 80, protocol: 'TCP' }];

/** Every kind of service port the proxier handles, on one node. */
export function allKinds(extraProxy: Obj = {}): Obj[] {
  return [
    kpCluster(),
    ipvsProxy(extraProxy),
    testNode(),
    testNode('other-node', '192.168.0.3'),
    ...namespaces('ns1', 'ns2', 'ns3', 'ns5', 'ns6', 'ns7'),
    service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: p80 }),
    slice('ns1', 'svc1', p80, [
      { ip: '10.180.0.1', node: TEST_NODE },
      { ip: '10.180.0.9', node: 'other-node' },
    ]),
    service(
      'ns2',
      'svc2',
      {
        type: 'LoadBalancer',
        externalTrafficPolicy: 'Local',
        clusterIP: '172.30.0.42',
        externalIPs: ['192.168.99.22'],
        healthCheckNodePort: 30200,
        ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      },
      { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
    ),
    slice('ns2', 'svc2', p80, [
      { ip: '10.180.0.2', node: TEST_NODE },
      { ip: '10.180.0.7', ready: false, serving: true, terminating: true, node: TEST_NODE },
      { ip: '10.180.1.2', node: 'other-node' },
    ]),
    service('ns3', 'svc3', {
      type: 'NodePort',
      clusterIP: '172.30.0.43',
      externalIPs: ['192.168.99.33'],
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', nodePort: 3003 },
        { name: 'sctp', port: 7777, protocol: 'SCTP', nodePort: 3004 },
      ],
    }),
    slice(
      'ns3',
      'svc3',
      [
        { name: 'dns', port: 5353, protocol: 'UDP' },
        { name: 'sctp', port: 7777, protocol: 'SCTP' },
      ],
      [{ ip: '10.180.0.3', node: 'other-node' }],
    ),
    service(
      'ns5',
      'svc5',
      {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.45',
        ports: [{ name: 'p80', port: 80, nodePort: 3002 }],
        loadBalancerSourceRanges: ['203.0.113.0/25', '192.168.0.0/24'],
        sessionAffinity: 'ClientIP',
      },
      { loadBalancer: { ingress: [{ ip: '5.6.7.8' }] } },
    ),
    slice('ns5', 'svc5', p80, [{ ip: '10.180.0.5', node: 'other-node' }, { ip: '10.180.0.4' }]),
  ];
}

export function snap(...docs: Obj[]): ClusterSnapshot {
  return cluster(...docs);
}
