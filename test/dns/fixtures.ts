/** Builders and a reference cluster for the DNS tests. */
import type { DnsClusterView, DnsEndpoint, DnsPort, DnsService } from '../../netmodel/dns/view.js';

export function port(name: string, p: number, protocol: DnsPort['protocol'] = 'TCP'): DnsPort {
  return { name, protocol, port: p };
}

export function svc(s: Partial<DnsService> & Pick<DnsService, 'name'>): DnsService {
  return {
    namespace: 'testns',
    type: 'ClusterIP',
    headless: false,
    clusterIPs: [],
    ports: [port('http', 80)],
    endpointSlices: [],
    ...s,
  };
}

export function ep(address: string, more: Partial<DnsEndpoint> = {}): DnsEndpoint {
  return { addresses: [address], ...more };
}

export const bigCount = 100;

export function clusterView(): DnsClusterView {
  return {
    domain: 'cluster.local',
    namespaces: ['default', 'kube-system', 'testns'],
    serial: 1700000000,
    nameservers: ['10.96.0.10'],
    services: [
      svc({
        namespace: 'default',
        name: 'kubernetes',
        clusterIPs: ['10.96.0.1'],
        ports: [port('https', 443)],
      }),
      svc({
        name: 'svc1',
        clusterIPs: ['10.96.0.11'],
        ports: [port('http', 80), port('', 81), port('dns', 53, 'UDP')],
        endpointSlices: [
          {
            ports: [port('http', 8080)],
            endpoints: [ep('10.244.1.5', { hostname: 'ep1a' }), ep('10.244.1.6')],
          },
        ],
      }),
      svc({ name: 'svcempty', clusterIPs: ['10.96.0.13'] }),
      svc({ name: 'dual', clusterIPs: ['10.96.0.12', 'fd00:10:96::12'] }),
      svc({
        name: 'hdls1',
        headless: true,
        ports: [port('http', 80), port('dns', 53, 'UDP')],
        endpointSlices: [
          {
            ports: [port('http', 80), port('dns', 53, 'UDP')],
            endpoints: [
              ep('10.244.2.1', { hostname: 'web-0' }),
              ep('10.244.2.2', { hostname: 'web-1' }),
              ep('10.244.2.3', { hostname: 'web-2', ready: false }),
              ep('fd00:10:244::5'),
            ],
          },
        ],
      }),
      svc({
        name: 'hdlsempty',
        headless: true,
        endpointSlices: [{ ports: [port('http', 80)], endpoints: [ep('10.244.9.9', { ready: false })] }],
      }),
      svc({
        name: 'notready',
        headless: true,
        publishNotReadyAddresses: true,
        endpointSlices: [{ ports: [port('http', 80)], endpoints: [ep('10.244.4.1', { ready: false })] }],
      }),
      svc({
        name: 'portless',
        headless: true,
        ports: [],
        endpointSlices: [{ ports: [], endpoints: [ep('10.244.3.1')] }],
      }),
      svc({ name: 'ext', type: 'ExternalName', externalName: 'ext.example.com', ports: [] }),
      svc({ name: 'extin', type: 'ExternalName', externalName: 'svc1.testns.svc.cluster.local', ports: [] }),
      svc({ name: 'extip', type: 'ExternalName', externalName: '1.2.3.4', ports: [] }),
      svc({
        name: 'big',
        headless: true,
        endpointSlices: [
          {
            ports: [port('http', 80)],
            endpoints: Array.from({ length: bigCount }, (_, i) =>
              ep(`10.244.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`),
            ),
          },
        ],
      }),
    ],
    pods: [{ namespace: 'testns', name: 'pod-a', ips: ['10.244.1.5'] }],
  };
}
