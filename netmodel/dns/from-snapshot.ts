/** The DNS view of a cluster snapshot: what CoreDNS's kubernetes plugin would read from the apiserver. */
import type { ClusterSnapshot } from '../cluster/index.js';
import { type PodResolvConf, podResolvConf } from './resolv.js';
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

/**
 * The resolv.conf kubelet writes for a pod (pkg/kubelet/network/dns): ClusterFirst's cluster search
 * path and nameserver, with the pod's `spec.dnsConfig` merged in (its searches appended, its options
 * overriding by name, so `ndots` takes effect), or only dnsConfig for `dnsPolicy: None`.
 */
export function podResolvConfOf(
  snap: ClusterSnapshot,
  pod: { readonly meta: { readonly namespace: string }; readonly raw: Record<string, unknown> },
): PodResolvConf {
  const spec = (pod.raw.spec ?? {}) as Record<string, unknown>;
  const dc = (spec.dnsConfig ?? {}) as Record<string, unknown>;
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  const options = Array.isArray(dc.options) ? (dc.options as { name?: unknown; value?: unknown }[]) : [];
  const ndotsOpt = options.find((o) => o?.name === 'ndots');
  const ndotsNum = ndotsOpt ? Number(ndotsOpt.value) : Number.NaN;
  // glibc caps ndots at 15 (RES_MAXNDOTS).
  const ndots = Number.isInteger(ndotsNum) && ndotsNum >= 0 ? Math.min(ndotsNum, 15) : undefined;
  const none = spec.dnsPolicy === 'None';
  return podResolvConf({
    namespace: pod.meta.namespace,
    domain: snap.config.domain,
    nameservers: [...(none ? [] : kubeDnsAddresses(snap)), ...strings(dc.nameservers)],
    ...(ndots !== undefined ? { ndots } : {}),
    hostSearch: strings(dc.searches),
    ...(none ? { clusterSearch: false } : {}),
  });
}
