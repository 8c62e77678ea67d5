/**
 * What the real-kernel side of the pod-network differential builds and sends: two (or more) nodes
 * wired as flannel's VXLAN backend sets them up (or with host-gw routes, as the bridge plugin's
 * static routes and flannel's host-gw backend do), pods on each, the traffic, and which interfaces to
 * capture. Names of captured interfaces are the ones kpath's pcap uses: `NODE/DEVICE` for a node's
 * device, `pod/NS/NAME/eth0` for a pod's.
 */

export interface PodSpec {
  readonly name: string;
  /** The Kubernetes namespace (for the interface name); default "default". */
  readonly namespace?: string;
  /** Default: the node's subnet .2, .3, ... in order. */
  readonly ip?: string;
  /** The pod's (and its host veth's) MTU; default the overlay MTU (1450). Set 1500 to misconfigure. */
  readonly mtu?: number;
  /** The host-side veth name; default `veth` + 8 hex from the pod's position (the bridge plugin's shape). */
  readonly hostVeth?: string;
}

export interface NodeSpec {
  readonly name: string;
  /** The node's underlay (InternalIP) address on eth0, in a /24: 10.0.0.11, 10.0.0.12, ... */
  readonly ip: string;
  /** The node's pod subnet, a /24 such as 10.244.1.0/24 (flannel's lease). */
  readonly podCidr: string;
  readonly pods: readonly PodSpec[];
}

/** Which MAC a device gets. Every device's MAC is set explicitly so the emulator can use the same. */
export type MacRef =
  | { readonly kind: 'node-eth0'; readonly node: string }
  | { readonly kind: 'cni0'; readonly node: string }
  | { readonly kind: 'flannel.1'; readonly node: string }
  | { readonly kind: 'host-veth'; readonly node: string; readonly pod: string }
  | { readonly kind: 'pod-eth0'; readonly node: string; readonly pod: string };

export type MacScheme = (
  ref: MacRef,
  ctx: { readonly nodeIndex: number; readonly podIndex?: number },
) => string;

export type Send =
  /** `ping -c 1 -s SIZE -M do|dont TO` from a pod (TO a pod name or an address). */
  | {
      readonly kind: 'ping';
      readonly from: string;
      readonly to: string;
      readonly size: number;
      readonly df: boolean;
    }
  /** A TCP connection from a fixed source port: connect, send `bytes`, the server echoes, both close. */
  | {
      readonly kind: 'tcp';
      readonly from: string;
      readonly to: string;
      readonly port: number;
      readonly sport: number;
      readonly bytes: number;
    }
  /** One UDP datagram of `bytes` from a fixed source port; the server echoes it back. */
  | {
      readonly kind: 'udp';
      readonly from: string;
      readonly to: string;
      readonly port: number;
      readonly sport: number;
      readonly bytes: number;
    };

/** A device to capture on: a node's (eth0, cni0, flannel.1, a host veth) or a pod's eth0. */
export type CapturePoint = { readonly node: string; readonly device: string } | { readonly pod: string };

export interface RealTopologySpec {
  readonly nodes: readonly NodeSpec[];
  /**
   * How pod subnets reach each other: `vxlan` (flannel.1 as flanneld programs it; the default) or
   * `host-gw` (`ip route add <remote subnet> via <remote node IP> dev eth0`: flannel's host-gw backend,
   * and kpath's bridge plugin with static routes) or `calico` (Calico's routed network with BGP
   * routes: no bridge; each pod a /32 behind a host veth with proxy ARP and `default via
   * 169.254.1.1`, a `/32 dev <veth> scope link` route per local pod, `blackhole` the own block and
   * `<remote block> via <remote node IP> dev eth0` as BIRD installs them).
   */
  readonly network?: 'vxlan' | 'host-gw' | 'calico';
  /** The MTU of cni0, the host veths and the pods' eth0 unless a pod sets its own; default `overlayMtu`. */
  readonly podMtu?: number;
  /**
   * The underlay MTU (eth0); default 1500. The VXLAN device gets `overlayMtu`, default underlay - 50
   * (host-gw: the underlay's, no encapsulation).
   */
  readonly underlayMtu?: number;
  readonly overlayMtu?: number;
  /** VXLAN id and UDP port; default 1 and 8472 as flannel. */
  readonly vni?: number;
  readonly vxlanPort?: number;
  readonly mac?: MacScheme;
  readonly sends: readonly Send[];
  readonly capture: readonly CapturePoint[];
  /**
   * Resolve ARP (pods -> gateway, node -> node) before capturing, so captures hold only the traffic
   * of `sends`; default true. With false the ARP exchanges are captured too.
   */
  readonly warmArp?: boolean;
  /**
   * Before each send, flush every neighbour entry that is not permanent, in every namespace: each send
   * starts with ARP unresolved, as each `kpath trace` starts from fresh kernels, and the captures hold
   * the ARP exchanges. Default false.
   */
  readonly freshNeighbours?: boolean;
}

function hex2(n: number): string {
  return (n & 255).toString(16).padStart(2, '0');
}

function ipBytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/**
 * The default MAC scheme, easy to read in a capture: node eth0 02:00 + the node IP; cni0 0a:58 + the
 * gateway IP (the bridge plugin's 0a:58 prefix); flannel.1 42:00 + the VTEP address (subnet .0); pod
 * eth0 0a:58 + the pod IP; host veth 0e:00 + the pod IP.
 */
export function defaultMacScheme(spec: Pick<RealTopologySpec, 'nodes'>): MacScheme {
  return (ref) => {
    const node = spec.nodes.find((n) => n.name === ref.node)!;
    const subnet = ipBytes(node.podCidr.split('/')[0]!);
    const withIp = (prefix: string, b: number[]) => `${prefix}:${b.map(hex2).join(':')}`;
    switch (ref.kind) {
      case 'node-eth0':
        return withIp('02:00', ipBytes(node.ip));
      case 'cni0':
        return withIp('0a:58', [subnet[0]!, subnet[1]!, subnet[2]!, 1]);
      case 'flannel.1':
        return withIp('42:00', [subnet[0]!, subnet[1]!, subnet[2]!, 0]);
      case 'pod-eth0':
        return withIp('0a:58', ipBytes(podAddress(node, ref.pod)));
      case 'host-veth':
        return withIp('0e:00', ipBytes(podAddress(node, ref.pod)));
    }
  };
}

export function podAddress(node: NodeSpec, pod: string): string {
  const i = node.pods.findIndex((p) => p.name === pod);
  if (i < 0) throw new Error(`podnet-diff: no pod ${pod} on node ${node.name}`);
  const given = node.pods[i]!.ip;
  if (given) return given;
  const b = ipBytes(node.podCidr.split('/')[0]!);
  return `${b[0]}.${b[1]}.${b[2]}.${2 + i}`;
}

export function gatewayAddress(node: NodeSpec): string {
  const b = ipBytes(node.podCidr.split('/')[0]!);
  return `${b[0]}.${b[1]}.${b[2]}.1`;
}

export function vtepAddress(node: NodeSpec): string {
  return node.podCidr.split('/')[0]!;
}

export function hostVethName(node: NodeSpec, nodeIndex: number, pod: string): string {
  const i = node.pods.findIndex((p) => p.name === pod);
  return node.pods[i]?.hostVeth ?? `veth${(0x6b700000 + nodeIndex * 256 + i).toString(16)}`;
}

/** The capture name of a point, as kpath's pcap names interfaces. */
export function captureName(spec: RealTopologySpec, c: CapturePoint): string {
  if ('pod' in c) {
    const pod = spec.nodes.flatMap((n) => n.pods).find((p) => p.name === c.pod);
    if (!pod) throw new Error(`podnet-diff: capture on unknown pod ${c.pod}`);
    return `pod/${pod.namespace ?? 'default'}/${pod.name}/eth0`;
  }
  return `${c.node}/${c.device}`;
}

/** Two nodes as flannel's quick start has them: 10.0.0.11/.12, pods 10.244.1.0/24 and 10.244.2.0/24. */
export function twoNodeSpec(over: Partial<RealTopologySpec> = {}): RealTopologySpec {
  return {
    nodes: [
      { name: 'node-a', ip: '10.0.0.11', podCidr: '10.244.1.0/24', pods: [{ name: 'client' }] },
      { name: 'node-b', ip: '10.0.0.12', podCidr: '10.244.2.0/24', pods: [{ name: 'server' }] },
    ],
    sends: [],
    capture: [],
    ...over,
  };
}
