/**
 * One connection's first packet through a Docker host, device by device with the one walker
 * (netmodel/kernel/walk.ts `travel`), and docker-proxy where it takes the connection:
 *
 *   from a container       sent by the container's stack, out of its eth0 into the bridge
 *   from the host          sent by the host's stack (source 127.0.0.1 for a loopback destination,
 *                          else the address routing picks)
 *   from outside           arriving on the host's eth0 from an address beyond it
 *
 * docker-proxy (userland proxy on) listens on every published host address and port; a packet
 * delivered to a host socket there is its connection (what the DNAT rules skip: the host's own
 * 127.0.0.1, a container on the same bridge through `-i BR -j RETURN`). The trace then goes on with
 * the proxy's own connection to the container, from the bridge's address (the source the container
 * sees). With the proxy off, dockerd 20.10 still holds the host ports but forwards nothing; the
 * rules (hairpin NAT, route_localnet) carry the connection.
 */
import { type IP, ipEquals, parseIP } from '../../netmodel/addr.js';
import type { ContainerPlan, PortBinding } from '../../netmodel/docker/index.js';
import { receive, send, type Travel, travel, type WalkEnv } from '../../netmodel/kernel/index.js';
import { type Packet, packet } from '../../netmodel/packet.js';
import { containerNs, type DockerHostState, HOST_UPLINK } from './host.js';

export type DockerSource =
  | { readonly kind: 'container'; readonly name: string }
  | { readonly kind: 'host' }
  | { readonly kind: 'outside'; readonly ip: IP };

export interface DockerTraceLeg {
  /** Who sends this leg's packet: the source, or docker-proxy on the host. */
  readonly by: 'source' | 'docker-proxy';
  readonly packet: Packet;
  readonly travel: Travel;
}

export interface DockerTrace {
  readonly legs: readonly DockerTraceLeg[];
  /** The final receiver: a container (with the source it sees), the host, or a failure. */
  readonly arrived:
    | { readonly kind: 'container'; readonly container: string; readonly from: string }
    | { readonly kind: 'host'; readonly from: string }
    | { readonly kind: 'outside'; readonly nextHop: string }
    | { readonly kind: 'stopped'; readonly ns: string; readonly reason: string };
}

/** The docker-proxy listening on (dst, dport/proto) of the host, if the userland proxy is on. */
export function proxyFor(
  st: DockerHostState,
  dst: IP,
  dport: number,
  proto: Packet['proto'],
): { container: ContainerPlan; binding: PortBinding } | undefined {
  if (!st.plan.host.engine.userlandProxy || !st.host.isLocal(dst)) return undefined;
  for (const c of st.plan.containers)
    for (const b of c.ports)
      if (
        b.hostPort === dport &&
        b.proto === proto &&
        (b.hostIP === '0.0.0.0' || ipEquals(parseIP(b.hostIP), dst))
      )
        return { container: c, binding: b };
  return undefined;
}

function startLeg(st: DockerHostState, from: DockerSource, p: Packet, env: WalkEnv): Travel {
  if (from.kind === 'container') {
    const ns = containerNs(st.plan.host.name, from.name);
    return travel(st, ns, send(st.ns(ns)!, p, env), env);
  }
  if (from.kind === 'host') return travel(st, st.plan.host.name, send(st.host, p, env), env);
  return travel(st, st.plan.host.name, receive(st.host, p, HOST_UPLINK, env), env);
}

/** The source address a sender uses towards `dst`. */
export function sourceAddress(st: DockerHostState, from: DockerSource, dst: IP): IP {
  if (from.kind === 'outside') return from.ip;
  if (from.kind === 'container') {
    const c = st.plan.containers.find((x) => x.name === from.name);
    if (!c) throw new RangeError(`no container ${from.name}`);
    return c.ip;
  }
  if (dst.text.startsWith('127.')) return parseIP('127.0.0.1');
  const onBridge = st.plan.networks.find((n) => {
    const bits = n.subnet.bits;
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    return dst.family === 4 && n.subnet.ip.family === 4 && (dst.n & mask) >>> 0 === n.subnet.ip.n;
  });
  return onBridge ? onBridge.gateway : st.plan.host.address.ip;
}

export function traceDocker(
  st: DockerHostState,
  from: DockerSource,
  dst: IP,
  dport: number,
  proto: 'tcp' | 'udp',
  env: WalkEnv,
  /** The sender's port (the live proxy passes the real client's; traces use 40000). */
  sport = 40000,
): DockerTrace {
  const legs: DockerTraceLeg[] = [];
  const p = packet({ proto, src: sourceAddress(st, from, dst), dst, sport, dport });
  let t = startLeg(st, from, p, env);
  legs.push({ by: 'source', packet: p, travel: t });
  if (t.end.kind === 'socket' && t.end.ns === st.plan.host.name) {
    const got = t.end.packet;
    const px = proxyFor(st, got.dst, got.dport, got.proto);
    if (px) {
      const c = px.container;
      const q = packet({
        proto,
        src: c.network.gateway,
        dst: c.ip,
        sport: sport === 40000 ? 40001 : sport,
        dport: px.binding.containerPort,
      });
      t = startLeg(st, { kind: 'host' }, q, env);
      legs.push({ by: 'docker-proxy', packet: q, travel: t });
    }
  }
  const end = t.end;
  const hostName = st.plan.host.name;
  const prefix = `container/${hostName}/`;
  if (end.kind === 'socket') {
    const from = `${end.packet.src.text}:${end.packet.sport}`;
    if (end.ns.startsWith(prefix))
      return { legs, arrived: { kind: 'container', container: end.ns.slice(prefix.length), from } };
    return { legs, arrived: { kind: 'host', from } };
  }
  if (end.kind === 'outside') return { legs, arrived: { kind: 'outside', nextHop: end.nextHop.text } };
  return { legs, arrived: { kind: 'stopped', ns: end.ns, reason: end.reason } };
}
