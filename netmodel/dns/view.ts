/**
 * What the DNS zone needs from the cluster: the subset of Namespaces, Services, EndpointSlices and Pods
 * that CoreDNS's kubernetes plugin reads. The cluster model produces one of these per snapshot; the DNS
 * code never sees cluster objects directly.
 */

/** CoreDNS `pods` option. */
export type PodsMode = 'insecure' | 'verified' | 'disabled';

export type DnsProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface DnsPort {
  /** The port name; `''` for an unnamed port (no `_port._proto` SRV record). */
  readonly name: string;
  readonly protocol: DnsProtocol;
  readonly port: number;
}

export interface DnsEndpoint {
  /** The endpoint's addresses (EndpointSlice `addresses`; one in practice). */
  readonly addresses: readonly string[];
  /** EndpointSlice `hostname` (set from the pod's `hostname` when its `subdomain` names the service). */
  readonly hostname?: string;
  /**
   * EndpointSlice `conditions.ready`; absent counts as ready, as in CoreDNS. Not-ready endpoints are
   * invisible unless the service has `publishNotReadyAddresses`.
   */
  readonly ready?: boolean;
  /** `targetRef.name` when it is a Pod; used only with `endpointPodNames`. */
  readonly targetRefName?: string;
  readonly nodeName?: string;
}

/** One EndpointSlice of a service: its ports apply to all its endpoints. */
export interface DnsEndpointSlice {
  /** Empty for a portless (headless, no ports) service: the records then have no SRV. */
  readonly ports: readonly DnsPort[];
  readonly endpoints: readonly DnsEndpoint[];
}

export type DnsServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface DnsService {
  readonly namespace: string;
  readonly name: string;
  readonly type: DnsServiceType;
  /** `clusterIP: None`. */
  readonly headless: boolean;
  /** `spec.clusterIPs` (empty for headless and ExternalName). */
  readonly clusterIPs: readonly string[];
  /** `spec.externalName`, for type ExternalName. */
  readonly externalName?: string;
  readonly ports: readonly DnsPort[];
  /** `spec.publishNotReadyAddresses`: every endpoint counts as ready. */
  readonly publishNotReadyAddresses?: boolean;
  /** The service's EndpointSlices (label `kubernetes.io/service-name`). Ignored for ExternalName. */
  readonly endpointSlices: readonly DnsEndpointSlice[];
}

export interface DnsPod {
  readonly namespace: string;
  readonly name: string;
  /**
   * `status.podIPs`. List only pods whose addresses count, as CoreDNS's pod watch does: not
   * terminating and not Succeeded/Failed/Unknown.
   */
  readonly ips: readonly string[];
}

export interface DnsClusterView {
  /** The cluster domain, e.g. `cluster.local` (a trailing dot is accepted). */
  readonly domain: string;
  /**
   * Existing namespaces. CoreDNS answers only for namespaces that exist as objects; when omitted, the
   * namespaces of the listed services and pods (plus `default` and `kube-system`) are taken.
   */
  readonly namespaces?: readonly string[];
  readonly services: readonly DnsService[];
  /** Needed for podsMode `verified` only. */
  readonly pods?: readonly DnsPod[];
  /**
   * SOA serial. CoreDNS uses the Unix time of the last DNS-relevant change; pass that, or the store
   * version. Default 1.
   */
  readonly serial?: number;
  /** Addresses of the DNS service (the kube-dns ClusterIPs): glue for `ns.dns.<zone>`. */
  readonly nameservers?: readonly string[];
}

export interface ZoneOptions {
  /** Positive TTL in seconds, 0..3600. Default 30 (kubeadm's Corefile; the plugin's own default is 5). */
  readonly ttl?: number;
  /** Default `insecure` (kubeadm's Corefile). */
  readonly podsMode?: PodsMode;
  /** Serve in-addr.arpa and ip6.arpa (PTR records) as kubeadm's Corefile does. Default true. */
  readonly reverseZones?: boolean;
  /** CoreDNS `endpoint_pod_names`: use the pod name as the endpoint label when there is no hostname. */
  readonly endpointPodNames?: boolean;
  /**
   * Map answered addresses (A/AAAA), e.g. to their loopback twins so `curl` to a resolved name works.
   * PTR lookups accept both the model address and its mapped form.
   */
  readonly mapAddress?: (ip: string) => string;
}

export const ZONE_DEFAULTS = {
  /** seconds */
  ttl: 30,
  podsMode: 'insecure' as PodsMode,
  reverseZones: true,
  endpointPodNames: false,
  /** CoreDNS's `dns-version.<zone>` TXT TTL, seconds */
  versionTtl: 28800,
  /** kubernetes/dns specification schema version */
  schemaVersion: '1.1.0',
  /** SOA timers, seconds (plugin/backend_lookup.go) */
  soaRefresh: 7200,
  soaRetry: 1800,
  soaExpire: 86400,
  /** the SOA RR's own TTL is min(ttl, this), seconds */
  soaTtlCap: 300,
  /** default SOA serial */
  serial: 1,
} as const;
