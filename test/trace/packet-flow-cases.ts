/**
 * kube-proxy's packet-flow cases (in the style of kube-proxy's runPacketFlowTests), shared by the
 * node-level table (packet-flow.test.ts) and the pod-network matrix (test/podnet): a two-node
 * cluster, a source, a destination, and what must happen on the node.
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { clusterCfg, node, snapshotOf } from '../helpers/cluster.js';

type Obj = Record<string, unknown>;

const kp = (extra: Obj = {}) => ({
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  mode: 'iptables',
  ...extra,
});

function service(name: string, spec: Obj, status?: Obj): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'ns' },
    spec: { ports: [{ name: 'p', port: 80 }], ...spec },
    ...(status ? { status } : {}),
  };
}

function slice(
  svc: string,
  endpoints: { ip: string; node: string; ready?: boolean; serving?: boolean; terminating?: boolean }[],
  ports: Obj[] = [{ name: 'p', port: 80 }],
): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${svc}-1`, namespace: 'ns', labels: { 'kubernetes.io/service-name': svc } },
    addressType: 'IPv4',
    ports,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node,
      conditions: {
        ready: e.ready ?? true,
        serving: e.serving ?? e.ready ?? true,
        terminating: e.terminating ?? false,
      },
    })),
  };
}

export function cluster(proxy: Obj = {}, network?: Obj, extra: Obj[] = []): ClusterSnapshot {
  return snapshotOf(
    clusterCfg({ podCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/16', ...(network ? { network } : {}) }),
    kp(proxy),
    node('node1', { podCIDR: '10.244.1.0/24', ip: '10.0.0.11' }),
    node('node2', { podCIDR: '10.244.2.0/24', ip: '10.0.0.12' }),
    // ClusterIP with one endpoint on node1.
    service('svc1', { clusterIP: '10.96.0.41' }),
    slice('svc1', [{ ip: '10.244.1.10', node: 'node1' }]),
    // The same port number for UDP and TCP.
    service('svc2', {
      clusterIP: '10.96.0.42',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    }),
    slice(
      'svc2',
      [{ ip: '10.244.2.10', node: 'node2' }],
      [
        { name: 'dns', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP' },
      ],
    ),
    // No endpoints at all.
    service('svc3', { clusterIP: '10.96.0.43' }),
    // NodePort with externalTrafficPolicy Local; one endpoint per node.
    service('svc4', {
      clusterIP: '10.96.0.44',
      type: 'NodePort',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'p', port: 80, nodePort: 30004 }],
    }),
    slice('svc4', [
      { ip: '10.244.1.14', node: 'node1' },
      { ip: '10.244.2.14', node: 'node2' },
    ]),
    // LoadBalancer with source ranges.
    service(
      'svc5',
      {
        clusterIP: '10.96.0.45',
        type: 'LoadBalancer',
        loadBalancerSourceRanges: ['203.0.113.0/25'],
        ports: [{ name: 'p', port: 80, nodePort: 30005 }],
      },
      { loadBalancer: { ingress: [{ ip: '192.0.2.5' }] } },
    ),
    slice('svc5', [{ ip: '10.244.2.15', node: 'node2' }]),
    // internalTrafficPolicy Local with no endpoint on node1.
    service('svc6', { clusterIP: '10.96.0.46', internalTrafficPolicy: 'Local' }),
    slice('svc6', [{ ip: '10.244.2.16', node: 'node2' }]),
    // Only a terminating (still serving) endpoint, and one that is neither.
    service('svc7', { clusterIP: '10.96.0.47' }),
    slice('svc7', [
      { ip: '10.244.2.17', node: 'node2', ready: false, serving: true, terminating: true },
      { ip: '10.244.2.27', node: 'node2', ready: false, serving: false, terminating: true },
    ]),
    // External IP, two endpoints.
    service('svc8', { clusterIP: '10.96.0.48', externalIPs: ['192.0.2.8'] }),
    slice('svc8', [
      { ip: '10.244.1.18', node: 'node1' },
      { ip: '10.244.2.18', node: 'node2' },
    ]),
    ...extra,
  );
}

export interface Flow {
  readonly name: string;
  readonly src: string;
  readonly dst: string;
  readonly port: number;
  readonly proto?: 'tcp' | 'udp';
  /** Endpoints (ip:port, any order), or the verdict. */
  readonly output: string;
  readonly masq?: boolean;
}

/** The flows on node1 of cluster(). */
export const NODE1_FLOWS: Flow[] = [
  {
    name: 'pod to cluster IP',
    src: '10.244.1.5',
    dst: '10.96.0.41',
    port: 80,
    output: '10.244.1.10:80',
    masq: false,
  },
  {
    name: 'hairpin: the endpoint to its own service',
    src: '10.244.1.10',
    dst: '10.96.0.41',
    port: 80,
    output: '10.244.1.10:80',
    masq: true,
  },
  {
    name: 'node to cluster IP is masqueraded',
    src: '10.0.0.11',
    dst: '10.96.0.41',
    port: 80,
    output: '10.244.1.10:80',
    masq: true,
  },
  {
    name: 'outside the cluster CIDR to cluster IP is masqueraded',
    src: '192.0.2.100',
    dst: '10.96.0.41',
    port: 80,
    output: '10.244.1.10:80',
    masq: true,
  },
  {
    name: 'wrong port on a cluster IP: no DNAT',
    src: '10.244.1.5',
    dst: '10.96.0.41',
    port: 81,
    output: 'no DNAT',
  },
  {
    name: 'UDP 53',
    src: '10.244.1.5',
    dst: '10.96.0.42',
    port: 53,
    proto: 'udp',
    output: '10.244.2.10:53',
    masq: false,
  },
  {
    name: 'TCP 53 of the same service',
    src: '10.244.1.5',
    dst: '10.96.0.42',
    port: 53,
    proto: 'tcp',
    output: '10.244.2.10:53',
    masq: false,
  },
  { name: 'no endpoints: REJECT', src: '10.244.1.5', dst: '10.96.0.43', port: 80, output: 'REJECT' },
  {
    name: 'external to NodePort with eTP Local: local endpoint only, source kept',
    src: '192.0.2.100',
    dst: '10.0.0.11',
    port: 30004,
    output: '10.244.1.14:80',
    masq: false,
  },
  {
    name: 'pod to NodePort with eTP Local: short-circuit to all endpoints',
    src: '10.244.1.5',
    dst: '10.0.0.11',
    port: 30004,
    output: '10.244.1.14:80, 10.244.2.14:80',
    masq: false,
  },
  {
    name: 'node to its own NodePort with eTP Local: all endpoints, masqueraded',
    src: '10.0.0.11',
    dst: '10.0.0.11',
    port: 30004,
    output: '10.244.1.14:80, 10.244.2.14:80',
    masq: true,
  },
  {
    name: 'localhost NodePort: masqueraded',
    src: '127.0.0.1',
    dst: '127.0.0.1',
    port: 30004,
    output: '10.244.1.14:80, 10.244.2.14:80',
    masq: true,
  },
  {
    name: 'eTP Local cluster IP still uses every endpoint',
    src: '10.244.1.5',
    dst: '10.96.0.44',
    port: 80,
    output: '10.244.1.14:80, 10.244.2.14:80',
    masq: false,
  },
  {
    name: 'LB IP from an allowed source range',
    src: '203.0.113.5',
    dst: '192.0.2.5',
    port: 80,
    output: '10.244.2.15:80',
    masq: true,
  },
  {
    name: 'LB IP from outside the source ranges: DROP',
    src: '198.51.100.1',
    dst: '192.0.2.5',
    port: 80,
    output: 'DROP',
  },
  {
    name: 'NodePort of an LB service ignores source ranges',
    src: '198.51.100.1',
    dst: '10.0.0.11',
    port: 30005,
    output: '10.244.2.15:80',
    masq: true,
  },
  {
    name: 'iTP Local with no local endpoint: DROP',
    src: '10.244.1.5',
    dst: '10.96.0.46',
    port: 80,
    output: 'DROP',
  },
  {
    name: 'only terminating endpoints: the serving one is used',
    src: '10.244.1.5',
    dst: '10.96.0.47',
    port: 80,
    output: '10.244.2.17:80',
    masq: false,
  },
  {
    name: 'external IP from outside: masqueraded, both endpoints',
    src: '192.0.2.100',
    dst: '192.0.2.8',
    port: 80,
    output: '10.244.1.18:80, 10.244.2.18:80',
    masq: true,
  },
  // KUBE-EXT (eTP Cluster) marks every external-destination packet for masquerade, pods' too.
  {
    name: 'external IP from a pod: masqueraded too (eTP Cluster)',
    src: '10.244.1.5',
    dst: '192.0.2.8',
    port: 80,
    output: '10.244.1.18:80, 10.244.2.18:80',
    masq: true,
  },
];
