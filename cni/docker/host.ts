/**
 * dockerd's bridge driver as a pure function: DockerPlan -> the host's namespace and one namespace
 * per container (moby/libnetwork drivers/bridge, 20.10):
 *
 *   eth0           the host's uplink with spec.address, default route via the subnet's first address
 *   docker0/br-ID  a Linux bridge per network with the gateway (.1) on it, MAC 02:42 + 4 bytes
 *                  (netutils.GenerateRandomMAC; kpath derives them)
 *   vethXXXXXXX    the host end of each container's veth, a port of its network's bridge; in hairpin
 *                  mode when the userland proxy is off (setHairpinMode)
 *   container eth0 02:42 + the IPv4 address, the address with the network's prefix, default via .1
 *   iptables       the commands dockerd runs (iptables.ts), applied in order
 *   sysctls        route_localnet=1 on every bridge with the proxy off (setupLoopbackAddressesRouting);
 *                  br_netfilter loaded (bridge-nf-call-iptables=1, dockerd's modprobe)
 */
import { prefixContains, prefixNth, prefixOf } from '../../netmodel/addr.js';
import { BridgeFdb, deriveMac } from '../../netmodel/devices/index.js';
import type { ContainerPlan, DockerPlan } from '../../netmodel/docker/index.js';
import { dockerId } from '../../netmodel/docker/index.js';
import { KernelNode, type NetWorld } from '../../netmodel/kernel/index.js';
import { dockerdCommands, dockerdRestore, type IptablesCommand } from './iptables.js';

export const HOST_UPLINK = 'eth0';
/** The L2 segment the host's eth0 is on (outside clients attach here). */
export const DOCKER_SEGMENT = 'docker-lan';

/** The namespace name of a container on host `host`. */
export function containerNs(host: string, name: string): string {
  return `container/${host}/${name}`;
}

export interface DockerHostState extends NetWorld {
  readonly plan: DockerPlan;
  readonly host: KernelNode;
  readonly commands: readonly IptablesCommand[];
  /** A container's namespace (built on first use). */
  container(name: string): KernelNode | undefined;
  /** The container with this address, if any. */
  containerByAddress(ip: string): ContainerPlan | undefined;
  /** Bridges with route_localnet=1 (the proxy off). */
  readonly routeLocalnet: readonly string[];
}

/** The MAC dockerd gives a bridge: 02:42 then four random bytes (derived here from the ID). */
export function bridgeMac(networkId: string): string {
  const h = networkId.slice(12, 20);
  return `02:42:${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}`;
}

function containerNamespace(plan: DockerPlan, c: ContainerPlan): KernelNode {
  const ns = containerNs(plan.host.name, c.name);
  const k = new KernelNode({ name: ns, ipForward: false, conntrackOnDemand: true });
  k.addDevice(
    { name: 'eth0', kind: 'veth', up: true, mtu: 1500, peer: c.veth },
    { mac: c.mac, spec: { kind: 'veth', peerNs: plan.host.name, peer: c.veth } },
  );
  k.routing.addAddress('eth0', `${c.ip.text}/${c.network.subnet.bits}`);
  // An internal network provides no gateway: the container has only its subnet's route.
  if (!c.network.internal) k.routing.addRoute({ dst: 'default', via: c.network.gateway.text, dev: 'eth0' });
  return k;
}

export function buildDockerHost(plan: DockerPlan, keep?: KernelNode): DockerHostState {
  const h = plan.host;
  const k = new KernelNode({ name: h.name, ...(keep ? { keep } : {}) });
  k.addDevice(
    { name: HOST_UPLINK, kind: 'ethernet', up: true, mtu: 1500 },
    { mac: deriveMac(`${h.name}/${HOST_UPLINK}`), spec: { kind: 'ethernet', segment: DOCKER_SEGMENT } },
  );
  k.routing.addAddress(HOST_UPLINK, `${h.address.ip.text}/${h.address.bits}`);
  const proxy = h.engine.userlandProxy;
  const fdbs = new Map<string, BridgeFdb>();
  for (const n of plan.networks) {
    const fdb = new BridgeFdb();
    const mac = bridgeMac(n.id);
    k.addDevice(
      { name: n.bridge, kind: 'bridge', up: true, mtu: 1500 },
      { mac, spec: { kind: 'bridge', fdb } },
    );
    fdb.addLocal(mac, n.bridge, true);
    k.routing.addAddress(n.bridge, `${n.gateway.text}/${n.subnet.bits}`);
    fdbs.set(n.bridge, fdb);
  }
  for (const c of plan.containers) {
    const br = c.network.bridge;
    const hostMac = deriveMac(`${h.name}/${c.veth}/${dockerId(c.id).slice(0, 8)}`);
    k.addDevice(
      { name: c.veth, kind: 'veth', up: true, mtu: 1500, master: br, peer: 'eth0' },
      {
        mac: hostMac,
        spec: { kind: 'veth', peerNs: containerNs(h.name, c.name), peer: 'eth0' },
        ...(proxy ? {} : { hairpin: true }),
      },
    );
    const fdb = fdbs.get(br)!;
    fdb.addLocal(hostMac, c.veth);
    // The container's eth0 coming up sends IPv6 router solicitations: the bridge has its MAC.
    fdb.learn(c.mac, c.veth, 0);
  }
  const hostNet = prefixOf(h.address.ip, h.address.bits);
  const gw = prefixNth(hostNet, 1n);
  if (gw.text !== h.address.ip.text && prefixContains(hostNet, gw)) {
    k.routing.addRoute({ dst: 'default', via: gw.text, dev: HOST_UPLINK });
    // The LAN's router, which kpath does not model: known from earlier traffic, so packets for the
    // world beyond leave on eth0 towards it (the travel ends `outside`).
    k.neigh.set({ ip: gw, dev: HOST_UPLINK, mac: deriveMac(`${h.name}/router`), state: 'STALE', updated: 0 });
  }
  const commands = dockerdCommands(plan);
  k.restore(dockerdRestore(commands), { noflush: true });

  const byName = new Map(plan.containers.map((c) => [c.name, c]));
  const byIP = new Map(plan.containers.map((c) => [c.ip.text, c]));
  const built = new Map<string, KernelNode>();
  const container = (name: string): KernelNode | undefined => {
    let ns = built.get(name);
    const c = byName.get(name);
    if (!ns && c) {
      ns = containerNamespace(plan, c);
      built.set(name, ns);
    }
    return ns;
  };
  const prefix = `container/${h.name}/`;
  return {
    plan,
    host: k,
    commands,
    container,
    containerByAddress: (ip) => byIP.get(ip),
    routeLocalnet: proxy ? [] : plan.networks.map((n) => n.bridge),
    ns: (name) =>
      name === h.name ? k : name.startsWith(prefix) ? container(name.slice(prefix.length)) : undefined,
    segment: (name) => (name === DOCKER_SEGMENT ? [{ ns: h.name, dev: HOST_UPLINK }] : []),
  };
}
