/**
 * The typed cluster model: what kpath understood from the manifests, plus what it derived (allocated
 * addresses, scheduled nodes, endpoint slices). Objects are immutable once built into a snapshot.
 * `raw` keeps the object as written so `kpath get -o yaml` can print it back with derived fields filled.
 */
import type { Family, IP, Prefix } from '../addr.js';
import type { Origin } from './diagnostics.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

export interface Meta {
  readonly name: string;
  /** '' for cluster-scoped objects (Node, Namespace). */
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly uid: string;
  /** Where it was written; absent for derived objects. */
  readonly origin?: Origin;
  /** The workload or service this object was derived from. */
  readonly ownerReferences?: readonly { kind: string; name: string; uid: string; controller: boolean }[];
  readonly deletionTimestamp?: string;
  readonly creationTimestamp?: string;
}

export interface Namespace {
  readonly kind: 'Namespace';
  readonly meta: Meta;
  readonly raw: Record<string, unknown>;
  readonly derived: boolean;
}

export interface Taint {
  readonly key: string;
  readonly value: string;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface Toleration {
  readonly key?: string;
  readonly operator: 'Equal' | 'Exists';
  readonly value?: string;
  readonly effect?: string;
}

export interface NodeAddress {
  readonly type: 'InternalIP' | 'ExternalIP' | 'Hostname';
  readonly address: string;
}

export interface Node {
  readonly kind: 'Node';
  readonly meta: Meta;
  readonly podCIDRs: readonly Prefix[];
  /** InternalIPs, one per family (first is primary). */
  readonly internalIPs: readonly IP[];
  readonly addresses: readonly NodeAddress[];
  readonly taints: readonly Taint[];
  readonly unschedulable: boolean;
  readonly ready: boolean;
  readonly raw: Record<string, unknown>;
  readonly derived: boolean;
}

export interface ContainerPort {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol: Protocol;
  readonly hostPort?: number;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly ports: readonly ContainerPort[];
  readonly env: readonly { name: string; value?: string }[];
  readonly readinessProbe?: Readonly<Record<string, unknown>>;
  readonly livenessProbe?: Readonly<Record<string, unknown>>;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export interface Pod {
  readonly kind: 'Pod';
  readonly meta: Meta;
  readonly nodeName: string | null;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly Toleration[];
  readonly hostname?: string;
  readonly subdomain?: string;
  readonly hostNetwork: boolean;
  readonly restartPolicy: 'Always' | 'OnFailure' | 'Never';
  readonly containers: readonly Container[];
  readonly phase: PodPhase;
  /** The Ready condition. */
  readonly ready: boolean;
  readonly podIPs: readonly IP[];
  /** Set when the pod has a deletionTimestamp. */
  readonly terminating: boolean;
  readonly raw: Record<string, unknown>;
  /** True for pods expanded from a workload. */
  readonly derived: boolean;
}

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface ServicePort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** A number, or the name of a container port. */
  readonly targetPort: number | string;
  /** Allocated or given; null where the type has none. */
  readonly nodePort: number | null;
  readonly appProtocol?: string;
}

export interface Service {
  readonly kind: 'Service';
  readonly meta: Meta;
  readonly type: ServiceType;
  /** null: no selector (endpoints are given by hand). */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly headless: boolean;
  /** Allocated or given, primary first. Empty for headless and ExternalName. */
  readonly clusterIPs: readonly IP[];
  readonly ipFamilies: readonly Family[];
  readonly ipFamilyPolicy: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
  readonly ports: readonly ServicePort[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** sessionAffinityConfig.clientIP.timeoutSeconds; 10800 by default. */
  readonly affinityTimeoutSeconds: number;
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  readonly externalIPs: readonly IP[];
  /** status.loadBalancer.ingress IPs, given or allocated from the pool. */
  readonly loadBalancerIngress: readonly IP[];
  readonly loadBalancerSourceRanges: readonly Prefix[];
  readonly publishNotReadyAddresses: boolean;
  readonly healthCheckNodePort: number | null;
  readonly externalName: string | null;
  readonly raw: Record<string, unknown>;
}

export interface EndpointConditions {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
}

export interface Endpoint {
  readonly addresses: readonly IP[];
  readonly conditions: EndpointConditions;
  readonly hostname?: string;
  readonly nodeName?: string;
  readonly zone?: string;
  readonly targetRef?: {
    readonly kind: string;
    readonly namespace: string;
    readonly name: string;
    readonly uid: string;
  };
}

export interface EndpointPort {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  readonly appProtocol?: string;
}

export interface EndpointSlice {
  readonly kind: 'EndpointSlice';
  readonly meta: Meta;
  /** The `kubernetes.io/service-name` label. */
  readonly serviceName: string;
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN';
  readonly ports: readonly EndpointPort[];
  readonly endpoints: readonly Endpoint[];
  /** 'controller' when derived from a selector, 'mirror' when converted from Endpoints, 'given' as written. */
  readonly source: 'controller' | 'mirror' | 'given';
  readonly raw: Record<string, unknown>;
}

export type WorkloadKind = 'Deployment' | 'ReplicaSet' | 'StatefulSet' | 'DaemonSet';

export interface Workload {
  readonly kind: WorkloadKind;
  readonly meta: Meta;
  readonly replicas: number;
  readonly selector: LabelSelector;
  readonly template: Record<string, unknown>;
  /** StatefulSet: the governing headless service. */
  readonly serviceName?: string;
  readonly raw: Record<string, unknown>;
}

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelSelectorRequirement[];
}

/** A NetworkPolicy port: absent `port` is every port of the protocol; `endPort` makes a range. */
export interface NetworkPolicyPort {
  /** Defaulted to TCP as the apiserver does. */
  readonly protocol: Protocol;
  /** A number, a container port name (resolved against the destination pod), or absent: every port. */
  readonly port?: number | string;
  readonly endPort?: number;
}

export interface IPBlock {
  readonly cidr: Prefix;
  readonly except: readonly Prefix[];
}

/**
 * One peer. podSelector and namespaceSelector together select pods matching both (AND); either alone
 * is scoped to the policy's namespace (podSelector) or to all pods of the matching namespaces; ipBlock
 * stands alone (validation forbids mixing it).
 */
export interface NetworkPolicyPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: IPBlock;
}

/** An ingress or egress rule; `peers` is `from` for ingress, `to` for egress. Empty lists match all. */
export interface NetworkPolicyRule {
  readonly peers: readonly NetworkPolicyPeer[];
  readonly ports: readonly NetworkPolicyPort[];
  /** Where the rule was written (`file:line`), for traces; absent for objects built in code. */
  readonly origin?: string;
}

export type PolicyType = 'Ingress' | 'Egress';

export interface NetworkPolicy {
  readonly kind: 'NetworkPolicy';
  readonly meta: Meta;
  readonly podSelector: LabelSelector;
  /** As given, or defaulted: Ingress always, Egress when there are egress rules. */
  readonly policyTypes: readonly PolicyType[];
  readonly ingress: readonly NetworkPolicyRule[];
  readonly egress: readonly NetworkPolicyRule[];
  readonly raw: Record<string, unknown>;
}

export type ProxyMode = 'iptables' | 'ipvs' | 'userspace' | 'nftables';

/** The parts of kube-proxy's KubeProxyConfiguration kpath uses, with kube-proxy's defaults. */
export interface ProxyConfig {
  readonly mode: ProxyMode;
  readonly clusterCIDRs: readonly Prefix[];
  readonly masqueradeAll: boolean;
  readonly masqueradeBit: number;
  readonly localhostNodePorts: boolean;
  readonly ipvsScheduler: string;
  readonly ipvsStrictARP: boolean;
  /** The rest of KubeProxyConfiguration.ipvs (v1alpha1, kube-proxy ~v1.31). */
  readonly ipvs: IpvsProxyConfig;
  /** CIDRs, or the special value 'primary' (kube-proxy's `primary`). Empty: all local addresses. */
  readonly nodePortAddresses: readonly (Prefix | 'primary')[];
  readonly detectLocalMode: 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
  readonly detectLocal: { readonly bridgeInterface?: string; readonly interfaceNamePrefix?: string };
  readonly syncPeriodSeconds: number;
  /**
   * KubeProxyConfiguration.conntrack.maxPerCore and min, when the configuration sets maxPerCore:
   * kube-proxy then sets every node's nf_conntrack_max (proxy/conntrack-max.ts). Absent (or
   * maxPerCore 0): the nodes keep their own value.
   */
  readonly conntrack?: { readonly maxPerCore: number; readonly min: number };
  readonly origin?: Origin;
}

/** KubeProxyConfiguration.ipvs beyond scheduler and strictARP; durations in seconds. */
export interface IpvsProxyConfig {
  /** ipvs.syncPeriod (default 30s). */
  readonly syncPeriodSeconds: number;
  /** ipvs.minSyncPeriod (default 0). */
  readonly minSyncPeriodSeconds: number;
  /** ipvsadm --set timeouts; 0 leaves the kernel's value (900 s, 120 s, 300 s). */
  readonly tcpTimeoutSeconds: number;
  readonly tcpFinTimeoutSeconds: number;
  readonly udpTimeoutSeconds: number;
  /** Virtual servers inside these are never deleted by kube-proxy's cleanup. */
  readonly excludeCIDRs: readonly Prefix[];
}

/** A loopback prefix that stands for a model prefix of the same size (the design's prefix map). */
export interface LoopbackMapping {
  readonly model: Prefix;
  readonly loopback: Prefix;
}

/** The pod network plugin (`Cluster.spec.network`). */
export type NetworkPlugin = 'bridge' | 'flannel' | 'calico';
/** bridge: host-gw; flannel: vxlan | host-gw; calico: bgp | vxlan. */
export type NetworkBackend = 'host-gw' | 'vxlan' | 'bgp';

export interface NetworkConfig {
  readonly plugin: NetworkPlugin;
  readonly backend: NetworkBackend;
  /** The pods' MTU when given; otherwise the plugin computes it (flannel vxlan 1450, calico vxlan 1450, else 1500). */
  readonly mtu?: number;
}

/** kpath's own Cluster object: what has no Kubernetes object of its own. */
export interface ClusterConfig {
  readonly name: string;
  readonly domain: string;
  readonly podCIDRs: readonly Prefix[];
  /** Per-node pod CIDR mask size, per family (24 for IPv4, 64 for IPv6 by default). */
  readonly nodeCIDRMaskSize: { readonly v4: number; readonly v6: number };
  readonly serviceCIDRs: readonly Prefix[];
  readonly nodeCIDR: Prefix;
  readonly nodePortRange: { readonly min: number; readonly max: number };
  readonly loadBalancerPool: readonly Prefix[];
  readonly dns: {
    readonly pods: 'insecure' | 'verified' | 'disabled';
    readonly ttl: number;
    /** Add kube-dns (a coredns Deployment and the kube-dns Service) when the manifests have none. */
    readonly addon: boolean;
  };
  readonly loopbackMap: readonly LoopbackMapping[];
  /** The pod network (plugin, backend, MTU); bridge with host-gw routes when the Cluster names none. */
  readonly network: NetworkConfig;
  readonly origin?: Origin;
}

export type ClusterObject = Namespace | Node | Pod | Service | EndpointSlice | Workload | NetworkPolicy;

export function objectKey(o: { meta: { namespace: string; name: string } }): string {
  return o.meta.namespace ? `${o.meta.namespace}/${o.meta.name}` : o.meta.name;
}
