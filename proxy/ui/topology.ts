/**
 * The cluster as the page draws it: nodes with their pods, services with their ports and the
 * endpoints behind each, the proxy mode. Pure: from the runtime's effective snapshot (pod readiness
 * from the probes already folded in).
 */
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { allEndpoints } from '../runtime/eligibility.js';

export interface TopologyPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string | null;
  readonly ready: boolean;
  readonly phase: string;
  readonly hostNetwork: boolean;
}

export interface TopologyNode {
  readonly name: string;
  readonly ips: readonly string[];
  readonly podCIDRs: readonly string[];
  readonly ready: boolean;
  readonly pods: readonly TopologyPod[];
}

export interface TopologyEndpoint {
  readonly address: string;
  readonly pod: string | null;
  readonly node: string | null;
  readonly ready: boolean;
}

export interface TopologyServicePort {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly targetPort: number | string;
  readonly nodePort: number | null;
  readonly endpoints: readonly TopologyEndpoint[];
}

export interface TopologyService {
  readonly namespace: string;
  readonly name: string;
  readonly type: string;
  readonly clusterIPs: readonly string[];
  readonly headless: boolean;
  readonly sessionAffinity: string;
  readonly ports: readonly TopologyServicePort[];
}

export interface Topology {
  readonly mode: string;
  readonly version: number;
  readonly podCIDRs: readonly string[];
  readonly serviceCIDRs: readonly string[];
  /** How pods are wired in the emulated nodes (cni/). */
  readonly podNetwork: string;
  readonly nodes: readonly TopologyNode[];
  /** Pods no node runs (Pending). */
  readonly unscheduled: readonly TopologyPod[];
  readonly services: readonly TopologyService[];
}

/** The pod network as `Cluster.spec.network` chose it: `flannel (vxlan, MTU 1450)`, `bridge (host-gw)`. */
function podNetworkOf(snap: ClusterSnapshot): string {
  const n = snap.config.network;
  return `${n.plugin} (${n.backend}${n.mtu !== undefined ? `, MTU ${n.mtu}` : ''})`;
}

export function topologyOf(snap: ClusterSnapshot | undefined, mode: string): Topology {
  if (!snap)
    return {
      mode,
      version: 0,
      podCIDRs: [],
      serviceCIDRs: [],
      podNetwork: '',
      nodes: [],
      unscheduled: [],
      services: [],
    };
  const podJson = (p: ClusterSnapshot['pods'][number]): TopologyPod => ({
    namespace: p.meta.namespace,
    name: p.meta.name,
    ip: p.podIPs[0]?.text ?? null,
    ready: p.ready,
    phase: p.phase,
    hostNetwork: p.hostNetwork,
  });
  return {
    mode,
    version: snap.version,
    podCIDRs: snap.config.podCIDRs.map((c) => c.text),
    serviceCIDRs: snap.config.serviceCIDRs.map((c) => c.text),
    podNetwork: podNetworkOf(snap),
    nodes: snap.nodes.map((n) => ({
      name: n.meta.name,
      ips: n.internalIPs.map((x) => x.text),
      podCIDRs: n.podCIDRs.map((c) => c.text),
      ready: n.ready,
      pods: snap.pods.filter((p) => p.nodeName === n.meta.name).map(podJson),
    })),
    unscheduled: snap.pods.filter((p) => !p.nodeName).map(podJson),
    services: snap.services.map((s) => ({
      namespace: s.meta.namespace,
      name: s.meta.name,
      type: s.type,
      clusterIPs: s.clusterIPs.map((x) => x.text),
      headless: s.headless,
      sessionAffinity: s.sessionAffinity,
      ports: s.ports.map((sp) => ({
        name: sp.name,
        port: sp.port,
        protocol: sp.protocol,
        targetPort: sp.targetPort,
        nodePort: sp.nodePort ?? null,
        endpoints:
          s.type === 'ExternalName'
            ? []
            : allEndpoints(snap, s, sp).map((e) => ({
                address: e.key,
                pod: e.pod ?? null,
                node: e.nodeName ?? null,
                ready: e.ready,
              })),
      })),
    })),
  };
}
