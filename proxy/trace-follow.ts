/**
 * Following a traced packet beyond its first node, over the emulated devices (the device walker,
 * netmodel/kernel/walk.ts `travel`): out of a pod's eth0, through the veth, the bridge or the cali
 * veth, the overlay (flannel.1, vxlan.calico) or the underlay, into the next node and the pod it is
 * for; then the endpoint's reply, back through the same nodes' conntrack (un-DNAT, un-SNAT). Every
 * namespace keeps its state between the two directions, as real ones do.
 *
 * NetworkPolicy is checked where CNIs enforce it: egress as the packet leaves the source pod (on the
 * pod's node, after that node's DNAT, before SNAT), ingress as it reaches the destination pod. A
 * denied packet stops there; replies of an allowed connection are not checked (conntrack).
 */
import type { HostNetwork } from '../cni/index.js';
import { joinHostPort } from '../netmodel/addr.js';
import {
  type KernelNode,
  podOfNs,
  send,
  type Travel,
  type TravelEnd,
  travel,
  type WalkEnv,
  type WalkResult,
} from '../netmodel/kernel/index.js';
import { type Packet, packet, SYN_ACK, withFields } from '../netmodel/packet.js';
import type { PolicyHooks, PolicyStage } from './trace-policy.js';

export interface Hop {
  readonly node: string;
  readonly walk: WalkResult;
}

export type Arrival =
  | { readonly kind: 'pod'; readonly pod: string; readonly node: string; readonly packet: Packet }
  | { readonly kind: 'node'; readonly node: string; readonly packet: Packet }
  | { readonly kind: 'outside'; readonly via: string; readonly node: string; readonly packet: Packet }
  | {
      readonly kind: 'stopped';
      readonly node: string;
      readonly reason: string;
      readonly ns: string;
      readonly dev?: string;
      readonly icmp?: Journey;
    };

export interface Journey {
  /** The walks of the traced packet (not its VXLAN outer packets) on nodes, in order. */
  readonly hops: readonly Hop[];
  readonly arrival: Arrival;
  /** Every step: stack walks, frames on each device, ARP/FDB/encapsulation/MTU decisions. */
  readonly travel: Travel;
  /** NetworkPolicy where the packet left its pod and where it reached one (absent: no pod, or no policies). */
  readonly egress?: PolicyStage;
  readonly ingress?: PolicyStage;
}

export interface World {
  readonly net: HostNetwork;
  readonly nodes: ReadonlyMap<string, KernelNode>;
  /** NetworkPolicy stages (absent: the cluster has no policies). */
  readonly policy?: PolicyHooks;
}

/** The node a namespace is on (the far end of a pod's eth0, or the node itself). */
function nodeOfNs(world: World, ns: string): string {
  if (!podOfNs(ns)) return ns;
  const l = world.net.ns(ns)?.link('eth0');
  return l?.spec.kind === 'veth' ? l.spec.peerNs : ns;
}

function arrivalOf(world: World, end: TravelEnd): Arrival {
  switch (end.kind) {
    case 'socket': {
      const pod = podOfNs(end.ns);
      if (pod) return { kind: 'pod', pod, node: nodeOfNs(world, end.ns), packet: end.packet };
      return { kind: 'node', node: end.ns, packet: end.packet };
    }
    case 'outside':
      return {
        kind: 'outside',
        via: `${end.dev} to ${end.nextHop.text}`,
        node: nodeOfNs(world, end.ns),
        packet: end.packet,
      };
    case 'stopped':
      return {
        kind: 'stopped',
        node: nodeOfNs(world, end.ns),
        ns: end.ns,
        reason: end.reason,
        ...(end.dev ? { dev: end.dev } : {}),
        ...(end.icmp ? { icmp: journeyOf(world, end.icmp) } : {}),
      };
  }
}

/** A travel as the per-node hops of the traced packet and where it arrived. */
export function journeyOf(world: World, t: Travel): Journey {
  const hops: Hop[] = [];
  for (const s of t.steps)
    if (s.kind === 'stack' && !s.outer && !podOfNs(s.ns)) hops.push({ node: s.ns, walk: s.walk });
  return { hops, arrival: arrivalOf(world, t.end), travel: t };
}

/**
 * Continue from a namespace's walk result until the packet arrives somewhere. A reply (`reply: true`)
 * is not checked against NetworkPolicy: it belongs to a connection policy already allowed.
 */
export function follow(
  world: World,
  startNs: string,
  first: WalkResult,
  env: WalkEnv,
  opts: { reply?: boolean } = {},
): Journey {
  const t = travel(world.net, startNs, first, env);
  return opts.reply ? journeyOf(world, t) : journeyWithPolicy(world, first, t);
}

/** A travel as a journey, with the NetworkPolicy stages of a new connection (`first`: its first walk). */
export function journeyWithPolicy(world: World, first: WalkResult, t: Travel): Journey {
  const j = journeyOf(world, t);
  return world.policy ? withPolicy(world, world.policy, first, j) : j;
}

function policyStop(s: PolicyStage): Arrival {
  return {
    kind: 'stopped',
    node: s.node,
    ns: s.node,
    reason: `dropped by NetworkPolicy ${s.direction.toLowerCase()} at pod ${s.verdict.pod}: ${s.verdict.reason}`,
  };
}

/**
 * The policy stages of a journey: egress on the source pod's node (its first walk there, after that
 * node's DNAT), ingress at the pod it reached. A denied egress cuts the journey after that node's
 * walk, where the CNI drops it; a denied ingress stops it at the destination pod.
 */
function withPolicy(world: World, policy: PolicyHooks, first: WalkResult, j: Journey): Journey {
  let out = j;
  const from = world.net.podByAddress(first.input.src);
  const at = from ? j.hops.findIndex((h) => h.node === from.nodeName) : -1;
  if (from && at >= 0) {
    const h = j.hops[at]!;
    const o = h.walk.outcome;
    const p = h.walk.dnat
      ? withFields(h.walk.input, { dst: h.walk.dnat.ip, dport: h.walk.dnat.port })
      : h.walk.input;
    const egress = o.kind === 'sent' || o.kind === 'delivered' ? policy.leavingPod(h.node, p) : undefined;
    if (egress && !egress.verdict.allowed) {
      const arrival = policyStop(egress);
      const cut = j.travel.steps.findIndex((s) => s.kind === 'stack' && s.walk === h.walk);
      const steps = j.travel.steps.slice(0, cut + 1);
      return {
        hops: j.hops.slice(0, at + 1),
        arrival,
        travel: {
          steps,
          end: { kind: 'stopped', ns: h.node, reason: arrival.kind === 'stopped' ? arrival.reason : '' },
        },
        egress,
      };
    }
    if (egress) out = { ...out, egress };
  }
  const a = out.arrival;
  if (a.kind !== 'pod') return out;
  // Hairpin: a pod reaching itself through its service arrives from the address kube-proxy's
  // KUBE-MARK-MASQ (`-s <endpoint>`) masqueraded it to, the node's bridge address. Policy does not
  // apply to a pod's own traffic: a pod cannot block access to itself (the Kubernetes docs; the e2e
  // suite's AllowLoopback), Cilium skips policy for the service loopback case, and the connection
  // comes from the pod's node, which ingress always allows. `kpath up` lets it through the same way.
  const hairpin = from !== undefined && a.pod === `${from.meta.namespace}/${from.meta.name}`;
  const seen = hairpin ? withFields(a.packet, { src: first.input.src }) : a.packet;
  const decided = policy.arrivingAtPod(a.node, seen);
  const ingress =
    decided && hairpin && a.packet.src.text !== first.input.src.text
      ? {
          ...decided,
          packet: a.packet,
          verdict: {
            ...decided.verdict,
            reason: `${a.pod} reaching itself through a service (hairpin, masqueraded to ${a.packet.src.text}): NetworkPolicy does not apply to a pod's own traffic`,
          },
        }
      : decided;
  if (!ingress) return out;
  return { ...out, ingress, ...(ingress.verdict.allowed ? {} : { arrival: policyStop(ingress) }) };
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
    // The SYN-ACK acknowledges the SYN's sequence number (NAT leaves sequence numbers alone).
    ...(p.tcpSeq
      ? {
          tcpSeq: {
            seq: (p.tcpSeq.seq * 0x41c64e6d + 12345) >>> 0,
            ack: (p.tcpSeq.seq + 1) >>> 0,
            mss: p.tcpSeq.mss ?? 1460,
          },
        }
      : {}),
    // An echo reply leaves with DF clear (measured).
    ...(p.icmp && p.icmp.type === 8 ? { icmp: { ...p.icmp, type: 0 }, df: false } : {}),
    // An echo: a ping's reply and a UDP answer as long as the request (the datagram echoed back).
    ...(p.proto === 'icmp' || p.proto === 'udp' ? { length: p.length } : {}),
  });
  const ns = a.kind === 'pod' ? `pod/${a.pod}` : a.node;
  const kernel = world.net.ns(ns);
  if (!kernel) return undefined;
  return follow(world, ns, send(kernel, reply, env), env, { reply: true });
}

export function arrivalText(a: Arrival): string {
  const what = (p: Packet) =>
    p.proto === 'icmp' || p.proto === 'icmpv6'
      ? `${p.proto}${p.icmp ? ` type ${p.icmp.type}` : ''} from ${p.src.text} to ${p.dst.text}`
      : `${p.proto} from ${joinHostPort(p.src, p.sport)} to ${joinHostPort(p.dst, p.dport)}`;
  switch (a.kind) {
    case 'pod':
      return `pod ${a.pod} on ${a.node} receives ${what(a.packet)}`;
    case 'node':
      return a.packet.proto === 'icmp' || a.packet.proto === 'icmpv6'
        ? `a process on ${a.node} receives ${what(a.packet)}`
        : `a process on ${a.node} receives it from ${joinHostPort(a.packet.src, a.packet.sport)} at ${joinHostPort(a.packet.dst, a.packet.dport)}`;
    case 'outside':
      return `leaves the cluster via ${a.via}`;
    case 'stopped':
      return `stops ${a.ns === a.node ? `on ${a.node}` : `in ${a.ns}`}${a.dev ? ` at ${a.dev}` : ''}: ${a.reason}`;
  }
}
