/** The DNS view of a cluster snapshot: what CoreDNS's kubernetes plugin would read from the apiserver. */
import type { ClusterSnapshot } from '../cluster/index.js';
import type { DnsClusterView, DnsEndpointSlice, DnsPod, DnsService, ZoneOptions } from './view.js';

/** The kube-dns service (kube-system/kube-dns), whose cluster IPs are the pods' nameservers. */
export function kubeDnsAddresses(snap: ClusterSnapshot): string[] {
  return snap.service('kube-system', 'kube-dns')?.clusterIPs.map((ip) => ip.text) ?? [];
}

export function dnsViewOf(snap: ClusterSnapshot): DnsClusterView {
  const services: DnsService[] = snap.services.map((s) => ({
    namespace: s.meta.namespace,
    name: s.meta.name,
    type: s.type,
    headless: s.headless,
    clusterIPs: s.clusterIPs.map((ip) => ip.text),
    ...(s.externalName ? { externalName: s.externalName } : {}),
    ports: s.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
    publishNotReadyAddresses: s.publishNotReadyAddresses,
    endpointSlices: snap
      .slicesFor(s)
      .filter((sl) => sl.addressType !== 'FQDN')
      .map(
        (sl): DnsEndpointSlice => ({
          ports: sl.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
          endpoints: sl.endpoints.map((e) => ({
            addresses: e.addresses.map((a) => a.text),
            ready: e.conditions.ready,
            ...(e.hostname ? { hostname: e.hostname } : {}),
            ...(e.targetRef?.kind === 'Pod' ? { targetRefName: e.targetRef.name } : {}),
            ...(e.nodeName ? { nodeName: e.nodeName } : {}),
          })),
        }),
      ),
  }));
  const pods: DnsPod[] = snap.pods
    .filter(
      (p) =>
        !p.terminating &&
        (p.phase === 'Running' || p.phase === 'Pending') &&
        p.podIPs.length > 0 &&
        !p.hostNetwork,
    )
    .map((p) => ({ namespace: p.meta.namespace, name: p.meta.name, ips: p.podIPs.map((ip) => ip.text) }));
  return {
    domain: snap.config.domain,
    namespaces: snap.namespaces.map((n) => n.meta.name),
    services,
    pods,
    serial: snap.version,
    nameservers: kubeDnsAddresses(snap),
  };
}

export function zoneOptionsOf(snap: ClusterSnapshot, extra: Partial<ZoneOptions> = {}): ZoneOptions {
  return { ttl: snap.config.dns.ttl, podsMode: snap.config.dns.pods, ...extra };
}
