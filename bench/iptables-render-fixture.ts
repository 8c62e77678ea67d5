/**
 * The 10,000 services x 5 endpoints cluster of the iptables-render benchmark, built from objects: one
 * Service and one EndpointSlice go through the YAML pipeline as templates, and the rest are copies with
 * their own names and addresses (building all 20,000 documents through YAML takes over a minute; the
 * objects come out the same).
 */
import { parseIP } from '../netmodel/addr.js';
import {
  buildCluster,
  ClusterSnapshot,
  type EndpointSlice,
  type Service,
} from '../netmodel/cluster/index.js';

export const NODE = 'node-1';

const HEAD = [
  'apiVersion: kpath.dev/v1alpha1\nkind: Cluster\nmetadata: {name: bench}\nspec: {podCIDR: 10.0.0.0/8, serviceCIDR: 172.16.0.0/12, nodeCIDR: 192.168.0.0/24}',
  `apiVersion: v1\nkind: Node\nmetadata: {name: ${NODE}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.11}]}`,
];

/** The YAML of service `i` and its EndpointSlice (what the object copies stand for). */
export function serviceYaml(i: number, endpoints: number, changed?: number): string[] {
  const ip = `172.16.${(i >> 8) + 1}.${i & 255}`;
  const eps: string[] = [];
  for (let e = 0; e < endpoints; e++) {
    eps.push(`{addresses: [${endpointIP(i, e, endpoints, changed)}], nodeName: node-${e}}`);
  }
  return [
    `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}, namespace: default}\nspec: {clusterIP: ${ip}, ports: [{name: http, port: 80}]}`,
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: svc-${i}-1, namespace: default, labels: {kubernetes.io/service-name: svc-${i}}}\naddressType: IPv4\nports: [{name: http, port: 8080, protocol: TCP}]\nendpoints: [${eps.join(', ')}]`,
  ];
}

function endpointIP(i: number, e: number, endpoints: number, changed?: number): string {
  const n = i * endpoints + e + (i === changed && e === 0 ? 7_000_000 : 0);
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/** The cluster through the YAML pipeline (slow at scale; used to check `clusterOf` on small sizes). */
export function clusterViaYaml(services: number, endpoints: number, changed?: number): ClusterSnapshot {
  const docs = [...HEAD];
  for (let i = 0; i < services; i++) docs.push(...serviceYaml(i, endpoints, changed));
  const r = buildCluster([{ file: 'bench.yaml', text: docs.join('\n---\n') }]);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.snapshot;
}

/**
 * `services` ClusterIP services with one port `http` (80 -> 8080/TCP) and `endpoints` ready endpoints
 * each on nodes node-0..; service `changed` has its first endpoint moved to another address.
 */
export function clusterOf(services: number, endpoints: number, changed?: number): ClusterSnapshot {
  const tpl = clusterViaYaml(1, endpoints);
  const svc0 = tpl.services.find((s) => s.meta.name === 'svc-0');
  const slice0 = tpl.endpointSlices.find((s) => s.meta.name === 'svc-0-1');
  if (!svc0 || !slice0) throw new Error('template objects missing');
  const services_: Service[] = tpl.services.filter((s) => s !== svc0);
  const slices: EndpointSlice[] = tpl.endpointSlices.filter((s) => s !== slice0);
  for (let i = 0; i < services; i++) {
    const name = `svc-${i}`;
    services_.push({
      ...svc0,
      meta: { ...svc0.meta, name, uid: `${svc0.meta.uid}-${i}` },
      clusterIPs: [parseIP(`172.16.${(i >> 8) + 1}.${i & 255}`)],
    });
    slices.push({
      ...slice0,
      meta: {
        ...slice0.meta,
        name: `${name}-1`,
        uid: `${slice0.meta.uid}-${i}`,
        labels: { 'kubernetes.io/service-name': name },
      },
      serviceName: name,
      endpoints: slice0.endpoints.map((ep, e) => ({
        ...ep,
        addresses: [parseIP(endpointIP(i, e, endpoints, changed))],
      })),
    });
  }
  return new ClusterSnapshot({ ...tpl, services: services_, endpointSlices: slices }, tpl.version + 1);
}
