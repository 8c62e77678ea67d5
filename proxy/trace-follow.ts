/**
 * Following a traced packet beyond its first node: out of the node's uplink to the node that owns the
 * next hop (host-gw), onto the bridge to a pod, until it is delivered, dropped or leaves the cluster;
 * then the endpoint's reply, back through the same nodes' conntrack (un-DNAT, un-SNAT) to the client.
 * Every node keeps its state between the two directions, as real nodes do.
 */
import { BRIDGE, type HostNetwork, UPLINK } from '../cni/index.js';
import { joinHostPort } from '../netmodel/addr.js';
import { type KernelNode, receive, send, type WalkEnv, type WalkResult } from '../netmodel/kernel/index.js';
import { type Packet, packet, SYN_ACK, withFields } from '../netmodel/packet.js';

export interface Hop {
  readonly node: string;
  readonly walk: WalkResult;
}

export type Arrival =
  | { readonly kind: 'pod'; readonly pod: string; readonly node: string; readonly packet: Packet }
  | { readonly kind: 'node'; readonly node: string; readonly packet: Packet }
  | { readonly kind: 'outside'; readonly via: string; readonly packet: Packet }
  | { readonly kind: 'stopped'; readonly node: string; readonly reason: string };

export interface Journey {
  readonly hops: readonly Hop[];
  readonly arrival: Arrival;
}

export interface World {
  readonly net: HostNetwork;
  readonly nodes: ReadonlyMap<string, KernelNode>;
}

const MAX_HOPS = 8;

function describeStop(r: WalkResult): string {
  const o = r.outcome;
  switch (o.kind) {
    case 'dropped':
      return `dropped: ${o.reason}`;
    case 'rejected':
      return `rejected in ${o.table} ${o.hook} (${o.with})`;
    case 'unreachable':
      return `unreachable: ${o.reason}`;
    default:
      return o.kind;
  }
}

/** Continue from a node's walk result until the packet arrives somewhere. */
export function follow(world: World, startNode: string, first: WalkResult, env: WalkEnv): Journey {
  const hops: Hop[] = [{ node: startNode, walk: first }];
  let node = startNode;
  let r = first;
  for (let i = 0; i < MAX_HOPS; i++) {
    const o = r.outcome;
    if (o.kind === 'delivered') return { hops, arrival: { kind: 'node', node, packet: o.packet } };
    if (o.kind !== 'sent') return { hops, arrival: { kind: 'stopped', node, reason: describeStop(r) } };
    const p = withFields(o.packet, { iif: undefined, oif: undefined, mark: 0 });
    if (o.dev === BRIDGE) {
      const pod = world.net.podByAddress(p.dst);
      if (pod && pod.nodeName === node) {
        return {
          hops,
          arrival: { kind: 'pod', pod: `${pod.meta.namespace}/${pod.meta.name}`, node, packet: p },
        };
      }
      return {
        hops,
        arrival: { kind: 'stopped', node, reason: `no pod has ${p.dst.text} on ${node}'s bridge` },
      };
    }
    const next = o.dev === UPLINK ? world.net.nodeByAddress(o.nextHop) : undefined;
    const kernel = next ? world.nodes.get(next.meta.name) : undefined;
    if (!next || !kernel)
      return { hops, arrival: { kind: 'outside', via: `${o.dev} to ${o.nextHop.text}`, packet: p } };
    node = next.meta.name;
    r = receive(kernel, p, UPLINK, env);
    hops.push({ node, walk: r });
  }
  return { hops, arrival: { kind: 'stopped', node, reason: `more than ${MAX_HOPS} hops (a routing loop?)` } };
}

/** The destination's answer to a journey that arrived: back through conntrack on every node it crosses. */
export function followReply(world: World, there: Journey, env: WalkEnv): Journey | undefined {
  const a = there.arrival;
  if (a.kind !== 'pod' && a.kind !== 'node') return undefined;
  const p = a.packet;
  const reply = packet({
    proto: p.proto,
    src: p.dst,
    dst: p.src,
    sport: p.dport,
    dport: p.sport,
    ...(p.proto === 'tcp' ? { tcp: SYN_ACK } : {}),
  });
  const kernel = world.nodes.get(a.node);
  if (!kernel) return undefined;
  const first = a.kind === 'pod' ? receive(kernel, reply, BRIDGE, env) : send(kernel, reply, env);
  return follow(world, a.node, first, env);
}

export function arrivalText(a: Arrival): string {
  switch (a.kind) {
    case 'pod':
      return `pod ${a.pod} on ${a.node} receives ${a.packet.proto} from ${joinHostPort(a.packet.src, a.packet.sport)} to ${joinHostPort(a.packet.dst, a.packet.dport)}`;
    case 'node':
      return `a process on ${a.node} receives it from ${joinHostPort(a.packet.src, a.packet.sport)} at ${joinHostPort(a.packet.dst, a.packet.dport)}`;
    case 'outside':
      return `leaves the cluster via ${a.via}`;
    case 'stopped':
      return `stops on ${a.node}: ${a.reason}`;
  }
}
