/**
 * What dockerd decides for a DockerHost, before it touches the kernel: each network's subnet,
 * gateway, ID and bridge name; each container's ID, address, MAC and host veth; each published port's
 * host address and port. Pure and deterministic: the IDs dockerd draws at random are derived from the
 * host and object names (64 hex digits, as `docker network ls --no-trunc` shows).
 *
 *   subnets   docker0 172.17.0.0/16; then the default local pools in order (172.18/16, 172.19/16,
 *             172.20/14, 172.24/14, 172.28/14 split into /16s, 192.168.0.0/16 in /20s), skipping any
 *             that overlap a network already made or the host's own route (libnetwork ipamutils,
 *             ipams/default getPredefinedPool + netutils.CheckRouteOverlaps)
 *   addresses the gateway .1 on the bridge; containers from .2 in `docker run` order
 *   MAC       02:42 + the IPv4 address (netutils.GenerateMACFromIP, 20.10)
 *   bridge    docker0, or br- + the first 12 hex digits of the network ID
 *   ports     the -p specs of a container sorted by container port (go-connections nat.SortPortMap);
 *             a spec without a host port takes the next port of the ephemeral range 32768-60999
 *             (ip_local_port_range, which portallocator reads), per protocol
 */
import { type IP, type Prefix, parsePrefix, prefixContains, prefixNth, prefixOf } from '../addr.js';
import type { DockerHost, PortProto } from './host.js';

export const DOCKER0 = 'docker0';
export const DEFAULT_BRIDGE_NET = 'bridge';
export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

export interface NetworkPlan {
  readonly name: string;
  readonly id: string;
  readonly bridge: string;
  readonly subnet: Prefix;
  readonly gateway: IP;
  /** docker0 (the default "bridge" network). */
  readonly isDefault: boolean;
  /** `--internal`. */
  readonly internal: boolean;
  /** Inter-container communication on the bridge (enable_icc; docker0: dockerd --icc). */
  readonly icc: boolean;
}

export interface PortBinding {
  readonly hostIP: string;
  readonly hostPort: number;
  readonly containerPort: number;
  readonly proto: PortProto;
  /** The host port came from the ephemeral range (no host port in the -p spec). */
  readonly random: boolean;
}

export interface ContainerPlan {
  readonly name: string;
  readonly image: string;
  readonly id: string;
  readonly network: NetworkPlan;
  readonly ip: IP;
  readonly mac: string;
  /** The host end of the container's veth (`veth` + 7 hex). */
  readonly veth: string;
  readonly ports: readonly PortBinding[];
  /** Every port the container listens on: its published container ports and `--expose`, sorted. */
  readonly listens: readonly { readonly port: number; readonly proto: PortProto }[];
}

export interface DockerPlan {
  readonly host: DockerHost;
  readonly networks: readonly NetworkPlan[];
  readonly containers: readonly ContainerPlan[];
}

/** A problem found while planning, at a path under spec (for file:line errors). */
export interface PlanProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

function fnv(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ (text.charCodeAt(i) & 0xff), 0x01000193) >>> 0;
  return h >>> 0;
}

/** A 64-hex-digit ID derived from `seed` (dockerd draws these at random). */
export function dockerId(seed: string): string {
  let out = '';
  for (let i = 0; out.length < 64; i++) out += fnv(`${seed}#${i}`, 0x811c9dc5).toString(16).padStart(8, '0');
  return out.slice(0, 64);
}

/** The container MAC dockerd 20.10 gives: 02:42 then the four bytes of the IPv4 address. */
export function macFromIP(ip: IP): string {
  const n = ip.family === 4 ? ip.n : 0;
  const b = [0x02, 0x42, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function defaultPools(): Prefix[] {
  const out: Prefix[] = [];
  for (const t of ['172.17.0.0/16', '172.18.0.0/16', '172.19.0.0/16']) out.push(parsePrefix(t));
  for (const base of [20, 24, 28])
    for (let i = 0; i < 4; i++) out.push(parsePrefix(`172.${base + i}.0.0/16`));
  for (let i = 0; i < 16; i++) out.push(parsePrefix(`192.168.${i * 16}.0/20`));
  return out;
}

function overlaps(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, b.ip) || prefixContains(b, a.ip);
}

function listensOf(
  ports: readonly PortBinding[],
  expose: readonly { port: number; proto: PortProto }[],
): { port: number; proto: PortProto }[] {
  const seen = new Map<string, { port: number; proto: PortProto }>();
  for (const x of [...ports.map((b) => ({ port: b.containerPort, proto: b.proto })), ...expose])
    seen.set(`${x.proto}/${x.port}`, x);
  return [...seen.values()].sort((a, b) => a.port - b.port || (a.proto < b.proto ? -1 : 1));
}

export function planDockerHost(host: DockerHost): { plan: DockerPlan; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];
  const hostNet = prefixOf(host.address.ip, host.address.bits);
  const taken: Prefix[] = [];
  const pools = defaultPools();
  const nextPool = (): Prefix | undefined => {
    for (const p of pools) if (!taken.some((t) => overlaps(t, p)) && !overlaps(p, hostNet)) return p;
    return undefined;
  };
  const networks: NetworkPlan[] = [];
  const mk = (
    name: string,
    subnet: Prefix,
    isDefault: boolean,
    opts: { internal?: boolean; icc?: boolean; bridgeName?: string } = {},
  ): NetworkPlan => {
    const id = dockerId(`${host.name}/network/${name}`);
    taken.push(subnet);
    return {
      name,
      id,
      bridge: isDefault ? DOCKER0 : (opts.bridgeName ?? `br-${id.slice(0, 12)}`),
      subnet,
      gateway: prefixNth(subnet, 1n),
      isDefault,
      internal: opts.internal ?? false,
      icc: opts.icc ?? true,
    };
  };
  networks.push(mk(DEFAULT_BRIDGE_NET, parsePrefix('172.17.0.0/16'), true, { icc: host.engine.icc ?? true }));
  host.networks.forEach((n, i) => {
    if (n.subnet) {
      const clash = taken.find((t) => overlaps(t, n.subnet!));
      if (clash) {
        problems.push({
          path: ['networks', i, 'subnet'],
          message: `Pool overlaps with other one on this address space (${n.subnet.text} and ${clash.text})`,
        });
        return;
      }
      networks.push(mk(n.name, n.subnet, false, n));
      return;
    }
    const p = nextPool();
    if (!p) {
      problems.push({
        path: ['networks', i],
        message:
          'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
      });
      return;
    }
    networks.push(mk(n.name, p, false, n));
  });
  const byName = new Map(networks.map((n) => [n.name, n]));
  const nextHost = new Map<string, bigint>();
  const bound: { ip: string; port: number; proto: PortProto; owner: string }[] = [];
  const nextEphemeral = new Map<PortProto, number>();
  const isBound = (ip: string, port: number, proto: PortProto) =>
    bound.find(
      (b) => b.port === port && b.proto === proto && (b.ip === ip || b.ip === '0.0.0.0' || ip === '0.0.0.0'),
    );
  const containers: ContainerPlan[] = [];
  host.containers.forEach((c, ci) => {
    const net = byName.get(c.network);
    if (!net) {
      problems.push({
        path: ['containers', ci, 'network'],
        message: `network ${c.network} not found (networks: ${networks.map((n) => n.name).join(', ')})`,
      });
      return;
    }
    const off = nextHost.get(net.name) ?? 2n;
    const size = 1n << BigInt(32 - net.subnet.bits);
    if (off >= size - 1n) {
      problems.push({
        path: ['containers', ci],
        message: `no available IPv4 addresses on network ${net.name}`,
      });
      return;
    }
    nextHost.set(net.name, off + 1n);
    const ip = prefixNth(net.subnet, off);
    const id = dockerId(`${host.name}/container/${c.name}`);
    const ports: PortBinding[] = [];
    // An internal network provides no gateway, so dockerd never programs its endpoints' external
    // connectivity: the -p mappings of a container only on it are not made.
    const specs = (net.internal ? [] : c.ports)
      .map((p, pi) => ({ p, pi }))
      .sort((a, b) => a.p.containerPorts.start - b.p.containerPorts.start);
    for (const { p, pi } of specs) {
      const hostIP = p.hostIP || '0.0.0.0';
      if (p.hostIP && p.hostIP !== '0.0.0.0' && !p.hostIP.includes(':')) {
        const ok = p.hostIP.startsWith('127.') || p.hostIP === host.address.ip.text;
        if (!ok)
          problems.push({
            path: ['containers', ci, 'ports', pi],
            message: `cannot assign requested address ${p.hostIP}: the host's addresses are 127.0.0.0/8 and ${host.address.ip.text}`,
          });
      }
      const count = p.containerPorts.end - p.containerPorts.start + 1;
      for (let k = 0; k < count; k++) {
        const cport = p.containerPorts.start + k;
        let hport: number | undefined;
        let random = false;
        if (!p.hostPorts) {
          random = true;
          let cand = nextEphemeral.get(p.proto) ?? EPHEMERAL_FIRST;
          while (cand <= EPHEMERAL_LAST && isBound(hostIP, cand, p.proto)) cand++;
          if (cand <= EPHEMERAL_LAST) {
            hport = cand;
            nextEphemeral.set(p.proto, cand + 1);
          }
        } else if (count === 1 && p.hostPorts.end > p.hostPorts.start) {
          for (let h = p.hostPorts.start; h <= p.hostPorts.end && hport === undefined; h++)
            if (!isBound(hostIP, h, p.proto)) hport = h;
        } else hport = p.hostPorts.start + k;
        const clash = hport !== undefined ? isBound(hostIP, hport, p.proto) : undefined;
        if (hport === undefined || clash) {
          const where = `${hostIP}:${hport ?? `${p.hostPorts?.start}-${p.hostPorts?.end}`}`;
          problems.push({
            path: ['containers', ci, 'ports', pi],
            message: `Bind for ${where} failed: port is already allocated${clash ? ` (by container ${clash.owner})` : ''}`,
          });
          continue;
        }
        bound.push({ ip: hostIP, port: hport, proto: p.proto, owner: c.name });
        ports.push({ hostIP, hostPort: hport, containerPort: cport, proto: p.proto, random });
      }
    }
    containers.push({
      name: c.name,
      image: c.image,
      id,
      network: net,
      ip,
      mac: macFromIP(ip),
      veth: `veth${dockerId(`${host.name}/veth/${c.name}`).slice(0, 7)}`,
      ports,
      listens: listensOf(ports, c.expose ?? []),
    });
  });
  return { plan: { host, networks, containers }, problems };
}
