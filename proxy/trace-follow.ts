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
import type { PolicyHooks, PolicyStage } from './trace-policy.js';

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
  /** NetworkPolicy where the packet left its pod and where it reached one (absent: no pod, or no policies). */
  readonly egress?: PolicyStage;
  readonly ingress?: PolicyStage;
}

export interface World {
  readonly net: HostNetwork;
  readonly nodes: ReadonlyMap<string, KernelNode>;
  /** NetworkPolicy enforcement (trace-policy.ts); absent: no policies. */
  readonly policy?: PolicyHooks;
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

/**
 * NetworkPolicy as the packet leaves its source pod: on the pod's node, after that node's DNAT, before
 * SNAT. Undefined when the source is not a pod of that node, or the node already stopped the packet.
 */
function egressStage(world: World, node: string, first: WalkResult): PolicyStage | undefined {
  const o = first.outcome;
  if (!world.policy || (o.kind !== 'sent' && o.kind !== 'delivered')) return undefined;
  const from = world.net.podByAddress(first.input.src);
  if (!from || from.nodeName !== node) return undefined;
  const p = first.dnat
    ? withFields(first.input, { dst: first.dnat.ip, dport: first.dnat.port })
    : first.input;
  return world.policy.leavingPod(node, p);
}

function policyStop(s: PolicyStage): Arrival {
  return {
    kind: 'stopped',
    node: s.node,
    reason: `dropped by NetworkPolicy ${s.direction.toLowerCase()} at pod ${s.verdict.pod}: ${s.verdict.reason}`,
  };
}

/**
 * Continue from a node's walk result until the packet arrives somewhere. A reply (`reply: true`) is
 * not checked against NetworkPolicy: it belongs to a connection policy already allowed.
 */
export function follow(
  world: World,
  startNode: string,
  first: WalkResult,
  env: WalkEnv,
  opts: { reply?: boolean } = {},
): Journey {
  const hops: Hop[] = [{ node: startNode, walk: first }];
  const egress = opts.reply ? undefined : egressStage(world, startNode, first);
  if (egress && !egress.verdict.allowed) return { hops, arrival: policyStop(egress), egress };
  const withPolicy = (j: Journey): Journey => (egress ? { ...j, egress } : j);
  const journey = followHops(world, startNode, first, env, hops);
  const a = journey.arrival;
  if (opts.reply || a.kind !== 'pod' || !world.policy) return withPolicy(journey);
  const ingress = world.policy.arrivingAtPod(a.node, a.packet);
  if (!ingress) return withPolicy(journey);
  return withPolicy({
    ...journey,
    ingress,
    ...(ingress.verdict.allowed ? {} : { arrival: policyStop(ingress) }),
  });
}

function followHops(world: World, startNode: string, first: WalkResult, env: WalkEnv, hops: Hop[]): Journey {
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
  return follow(world, a.node, first, env, { reply: true });
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
