/** Defaults for kpath's Cluster object and kube-proxy's configuration, in one place. */
import { parsePrefix } from '../addr.js';
import type { ClusterConfig, ProxyConfig } from './objects.js';

export const CLUSTER_DEFAULTS: ClusterConfig = Object.freeze<ClusterConfig>({
  name: 'kpath',
  /** The cluster DNS domain (kubelet --cluster-domain). */
  domain: 'cluster.local',
  /** kube-controller-manager --cluster-cidr (flannel's default). */
  podCIDRs: [parsePrefix('10.244.0.0/16')],
  /** Per-node pod CIDR size (--node-cidr-mask-size-ipv4 / -ipv6). */
  nodeCIDRMaskSize: { v4: 24, v6: 64 },
  /** kube-apiserver --service-cluster-ip-range (kubeadm's default). */
  serviceCIDRs: [parsePrefix('10.96.0.0/12')],
  /** Where node InternalIPs are allocated when a Node gives none (first node is .11). */
  nodeCIDR: parsePrefix('10.0.0.0/24'),
  /** kube-apiserver --service-node-port-range, inclusive. */
  nodePortRange: { min: 30000, max: 32767 },
  /** LoadBalancer ingress IPs for services that have none in status (like MetalLB's pool). */
  loadBalancerPool: [parsePrefix('10.250.0.0/24')],
  /**
   * CoreDNS kubernetes plugin: `pods insecure`, `ttl 30` (seconds); `addon`: a cluster whose manifests
   * have no kube-system/kube-dns Service gets one (and a coredns Deployment), as kubeadm installs it.
   */
  dns: { pods: 'insecure', ttl: 30, addon: true },
  /** Beyond the built-in 10.0.0.0/8 <-> 127.0.0.0/8 twins. */
  loopbackMap: [],
  /** The pod network when `spec.network` is absent: the bridge plugin with static host-gw routes. */
  network: { plugin: 'bridge', backend: 'host-gw' },
});

/** Each plugin's default backend, and the backends it accepts (the first is the default). */
export const NETWORK_BACKENDS = {
  bridge: ['host-gw'],
  flannel: ['vxlan', 'host-gw'],
  calico: ['bgp', 'vxlan'],
} as const;

export const PROXY_DEFAULTS: ProxyConfig = Object.freeze<ProxyConfig>({
  /** kube-proxy --proxy-mode; empty means iptables on Linux. */
  mode: 'iptables',
  /** --cluster-cidr; empty disables the ClusterCIDR local-traffic detector. kpath uses the Cluster's podCIDR. */
  clusterCIDRs: [],
  /** --masquerade-all */
  masqueradeAll: false,
  /** --iptables-masquerade-bit: mark 1<<14 = 0x4000 */
  masqueradeBit: 14,
  /** iptables.localhostNodePorts (true since 1.27) */
  localhostNodePorts: true,
  /** --ipvs-scheduler; empty means rr */
  ipvsScheduler: 'rr',
  ipvsStrictARP: false,
  ipvs: {
    /** ipvs.syncPeriod (v1alpha1 default 30s) */
    syncPeriodSeconds: 30,
    /** ipvs.minSyncPeriod (not defaulted: 0) */
    minSyncPeriodSeconds: 0,
    /** ipvs.tcpTimeout / tcpFinTimeout / udpTimeout: 0 = keep the kernel's 900 s / 120 s / 300 s */
    tcpTimeoutSeconds: 0,
    tcpFinTimeoutSeconds: 0,
    udpTimeoutSeconds: 0,
    excludeCIDRs: [],
  },
  /** --nodeport-addresses; empty: every local address */
  nodePortAddresses: [],
  /** --detect-local-mode */
  detectLocalMode: 'ClusterCIDR',
  detectLocal: {},
  /** --iptables-sync-period, seconds */
  syncPeriodSeconds: 30,
});
