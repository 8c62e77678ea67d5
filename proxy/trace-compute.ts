/**
 * The computation behind `kpath trace` and the web page's trace view: parse the source and
 * destination, build the nodes' kernels (rendered kube-proxy rules, the ipvs proxier, or an
 * iptables-save dump), walk the packet (one seeded path, or every path with its probability) and
 * follow it to where it arrives and back. Formatting is the caller's (cli/format/trace.ts, proxy/ui).
 */
import { buildHostNetwork, ingressInterface } from '../cni/index.js';
import { type IP, isLoopback, prefixNth, tryParseHostPort, tryParsePrefix } from '../netmodel/addr.js';
import type { ClusterSnapshot, Pod, Service } from '../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../netmodel/errors.js';
import {
  KernelNode,
  podNsName,
  receive,
  send,
  type Travel,
  travel,
  type WalkResult,
} from '../netmodel/kernel/index.js';
import { parseSave } from '../netmodel/netfilter/index.js';
import { type L4Proto, type Packet, packet } from '../netmodel/packet.js';
import { type Rng, SeededRng } from '../netmodel/rng.js';
import { enumeratePaths, type OutcomeJson, outcomeJson } from '../netmodel/trace/index.js';
import { applyFullSync, renderNode } from './iptables/index.js';
import { programIpvs } from './ipvs/index.js';
import { followReply, type Journey, journeyWithPolicy, type World } from './trace-follow.js';
import { policyHooks } from './trace-policy.js';

export interface TraceRequest {
  /** The cluster; absent when tracing through an iptables-save dump (`rules`). */
  readonly snapshot?: ClusterSnapshot;
  /** Trace through a dump instead of rendered rules; read() is called once the arguments are checked. */
  readonly rules?: { read(): string; readonly nodeAddress?: readonly string[]; readonly podCidr?: string };
  readonly node?: string;
  /** pod/NS/NAME or node/NAME */
  readonly from?: string;
  /** svc/NS/NAME[:PORT], pod/NS/NAME:PORT or node/NAME:PORT */
  readonly to?: string;
  /** IP[:PORT] */
  readonly src?: string;
  /** IP:PORT */
  readonly dst?: string;
  readonly proto?: L4Proto;
  /** Payload bytes (ping -s); default: ping's 56 for icmp, a bare SYN for tcp. */
  readonly size?: number;
  /** Don't Fragment: unset as Linux's path MTU discovery, true as ping -M do, false as ping -M dont. */
  readonly df?: boolean;
  readonly inIface?: string;
  readonly seed?: number;
  /** Every reachable outcome with its probability, instead of one seeded path. */
  readonly all: boolean;
  /** Follow the packet beyond the first node, and the reply back. */
  readonly follow: boolean;
}

export interface TraceJourney {
  readonly there: Journey;
  readonly back?: Journey;
}

export interface TraceOutcome {
  readonly walk: WalkResult;
  readonly probability: number;
  /** The first node's walk as JSON, taken before following (the reply moves its conntrack entry on). */
  readonly json: OutcomeJson;
  readonly world?: World;
  readonly journey?: TraceJourney;
}

export interface TraceComputation {
  readonly nodeName: string;
  readonly packet: Packet;
  /** Generated on the node (starts at OUTPUT) rather than arriving on inIface (PREROUTING). */
  readonly local: boolean;
  readonly inIface: string;
  /** One line saying where the packet enters the node. */
  readonly entry: string;
  readonly outcomes: readonly TraceOutcome[];
  /** Paths the outcomes stand for (1 unless `all`). */
  readonly total: number;
  readonly note?: string;
}

function usage(msg: string): KpathError {
  return new KpathError(ErrorCodes.USAGE, msg);
}

interface Endpoint {
  ip: IP;
  port?: number;
  proto?: L4Proto;
  node?: string;
  pod?: Pod;
}

function findPod(snap: ClusterSnapshot, ns: string, name: string): Pod {
  const p = snap.pod(ns, name);
  if (!p)
    throw new KpathError(ErrorCodes.NOT_FOUND, `pod ${ns}/${name} does not exist (see: kpath get pods -A)`);
  if (!p.podIPs[0])
    throw new KpathError(ErrorCodes.NOT_FOUND, `pod ${ns}/${name} has no IP (it is ${p.phase})`);
  return p;
}

function servicePort(svc: Service, want: string | undefined) {
  if (!want) return svc.ports[0];
  return svc.ports.find((p) => p.name === want || String(p.port) === want);
}

function parseFrom(text: string, snap: ClusterSnapshot | undefined): Endpoint {
  const parts = text.split('/');
  if (parts[0] === 'pod' && parts.length === 3) {
    if (!snap) throw usage('--from pod/... needs a cluster (-f), not --rules');
    const p = findPod(snap, parts[1]!, parts[2]!);
    return { ip: p.podIPs[0]!, pod: p, ...(p.nodeName ? { node: p.nodeName } : {}) };
  }
  if (parts[0] === 'node' && parts.length === 2) {
    const n = snap?.node(parts[1]!);
    if (!n?.internalIPs[0]) throw new KpathError(ErrorCodes.NOT_FOUND, `node ${parts[1]} does not exist`);
    return { ip: n.internalIPs[0], node: n.meta.name };
  }
  throw usage(`--from ${text}: expected pod/NAMESPACE/NAME or node/NAME`);
}

function parseTo(text: string, snap: ClusterSnapshot | undefined): Endpoint {
  const [kind, ...rest] = text.split('/');
  const tail = rest.join('/');
  const [path, port] = tail.includes(':')
    ? [tail.slice(0, tail.lastIndexOf(':')), tail.slice(tail.lastIndexOf(':') + 1)]
    : [tail, undefined];
  if (!snap) throw usage(`--to ${text} needs a cluster (-f), not --rules`);
  if (kind === 'svc' || kind === 'service') {
    const [ns, name] = path.split('/');
    const svc = ns && name ? snap.service(ns, name) : undefined;
    if (!svc)
      throw new KpathError(ErrorCodes.NOT_FOUND, `service ${path} does not exist (see: kpath get svc -A)`);
    if (!svc.clusterIPs[0])
      throw usage(
        `service ${path} has no cluster IP (${svc.headless ? 'headless' : svc.type}): trace to one of its pods instead`,
      );
    const sp = servicePort(svc, port);
    if (!sp)
      throw usage(
        `service ${path} has no port "${port}" (ports: ${svc.ports.map((p) => p.name || p.port).join(', ')})`,
      );
    return { ip: svc.clusterIPs[0], port: sp.port, proto: sp.protocol.toLowerCase() as L4Proto };
  }
  if (kind === 'pod') {
    const [ns, name] = path.split('/');
    if (!ns || !name || !port) throw usage(`--to ${text}: expected pod/NAMESPACE/NAME:PORT`);
    const p = findPod(snap, ns, name);
    return { ip: p.podIPs[0]!, port: Number(port) };
  }
  if (kind === 'node') {
    const n = snap.node(path);
    if (!n?.internalIPs[0] || !port) throw usage(`--to ${text}: expected node/NAME:PORT of an existing node`);
    return { ip: n.internalIPs[0], port: Number(port) };
  }
  throw usage(`--to ${text}: expected svc/NAMESPACE/NAME[:PORT], pod/NAMESPACE/NAME:PORT or node/NAME:PORT`);
}

/**
 * The traced packet. Sizes are IP total lengths: ICMP echo 20 + 8 + payload (ping's 56 by default:
 * 84 bytes); UDP 20 + 8 + payload; TCP 20 + 20 + payload, or a SYN with options (60) without --size.
 */
function makePacket(
  proto: L4Proto,
  src: IP,
  dst: IP,
  sport: number,
  dport: number,
  size: number | undefined,
  df: boolean | undefined,
): Packet {
  const ipHeader = src.family === 4 ? 20 : 40;
  if (proto === 'icmp')
    return packet({
      proto,
      src,
      dst,
      icmp: { type: 8, code: 0, id: sport, seq: 1 },
      length: ipHeader + 8 + (size ?? 56),
      ...(df !== undefined ? { df } : {}),
    });
  const l4 = proto === 'udp' ? 8 : proto === 'sctp' ? 12 : 20;
  const length =
    size === undefined ? (proto === 'tcp' ? ipHeader + 40 : ipHeader + l4) : ipHeader + l4 + size;
  return packet({ proto, src, dst, sport, dport, length, ...(df !== undefined ? { df } : {}) });
}

/** A Rng that decides random rules with a seeded generator and remembers each choice's probability. */
class SeededPath implements Rng {
  probability = 1;
  private readonly r: SeededRng;
  constructor(seed: number) {
    this.r = new SeededRng(seed);
  }
  uint32(): number {
    return this.r.uint32();
  }
  bernoulli(p31: number): boolean {
    const hit = (this.r.uint32() & 0x7fffffff) < p31;
    const p = Math.min(1, Math.max(0, p31 / 0x8000_0000));
    this.probability *= hit ? p : 1 - p;
    return hit;
  }
}

/** Throws KpathError (USAGE, NOT_FOUND, whatever rules.read() throws) for a request that cannot be traced. */
export function computeTrace(req: TraceRequest): TraceComputation {
  const snap = req.snapshot;
  const from = req.from ? parseFrom(req.from, snap) : undefined;
  const to = req.to ? parseTo(req.to, snap) : undefined;
  const srcHP = req.src ? (tryParseHostPort(req.src, 43210) ?? undefined) : undefined;
  if (req.src && !srcHP) throw usage(`--src ${req.src}: expected IP or IP:PORT`);
  const dstHP = req.dst ? tryParseHostPort(req.dst) : undefined;
  if (req.dst && !dstHP) throw usage(`--dst ${req.dst}: expected IP:PORT`);
  const src = from?.ip ?? srcHP?.ip;
  const dst = to?.ip ?? dstHP?.ip;
  if (!src || !dst) throw usage('give a source (--from or --src) and a destination (--to or --dst)');
  if (src.family !== dst.family)
    throw usage(`source ${src.text} and destination ${dst.text} are different address families`);
  const dport = to?.port ?? dstHP?.port ?? 0;
  const sport = srcHP?.port ?? 43210;
  const proto: L4Proto = req.proto ?? to?.proto ?? 'tcp';
  const nodeName = req.node ?? from?.node ?? (req.rules ? 'node' : undefined);
  if (!nodeName) throw usage('name the node (--node NAME), or trace --from a pod (its node is used)');

  // The node's kernel, fresh for every walk (each path starts from the same state).
  let makeNode: () => KernelNode;
  let makeWorld: (() => World) | undefined;
  if (req.rules) {
    const text = req.rules.read();
    const rs = parseSave(text, { family: src.family });
    const addrs = (req.rules.nodeAddress ?? []).map((a) => {
      const p = tryParsePrefix(a);
      if (!p || !a.includes('/')) throw usage(`--node-address ${a}: expected CIDR form such as 10.0.0.11/24`);
      return a;
    });
    const pod = req.rules?.podCidr ? tryParsePrefix(req.rules?.podCidr, { strict: true }) : undefined;
    if (req.rules?.podCidr && !pod)
      throw usage(`--pod-cidr ${req.rules?.podCidr}: expected a CIDR such as 10.244.1.0/24`);
    makeNode = () => {
      const k = new KernelNode({ name: nodeName });
      k.routing.addInterface({ name: 'eth0', kind: 'ethernet', up: true });
      for (const a of addrs) k.routing.addAddress('eth0', a);
      if (pod) {
        k.routing.addInterface({ name: 'cni0', kind: 'bridge', up: true });
        k.routing.addAddress('cni0', `${prefixNth(pod, 1n).text}/${pod.bits}`);
      }
      // A default route via the first address of the node's network, as most nodes have.
      const first = addrs[0] ? tryParsePrefix(addrs[0]) : undefined;
      const gw = first ? prefixNth(first, 1n) : undefined;
      if (gw && !addrs[0]!.startsWith(`${gw.text}/`))
        k.routing.addRoute({ dst: 'default', via: gw.text, dev: 'eth0' });
      k.setRules(rs);
      return k;
    };
  } else {
    const s = snap!;
    if (!s.node(nodeName)) {
      throw new KpathError(
        ErrorCodes.NOT_FOUND,
        `node "${nodeName}" does not exist (nodes: ${s.nodes.map((n) => n.meta.name).join(', ')})`,
      );
    }
    if (!s.config.serviceCIDRs.some((c) => c.ip.family === src.family)) {
      throw usage(
        `the cluster has no IPv${src.family} service CIDR, so kube-proxy writes no IPv${src.family} rules to trace through`,
      );
    }
    // ipvs mode: every node's IPVS, kube-ipvs0 and ipvs-mode rules as kube-proxy's ipvs proxier programs them.
    const renders =
      s.proxy.mode === 'ipvs'
        ? undefined
        : new Map(s.nodes.map((n) => [n.meta.name, renderNode(s, n.meta.name, { family: src.family })]));
    const policy = policyHooks(s);
    makeWorld = () => {
      const net = buildHostNetwork(s);
      for (const [name, k] of net.nodes) {
        if (renders) applyFullSync(k, renders.get(name)!, { family: src.family });
        else programIpvs(s, name, k, src.family);
      }
      return { net, nodes: net.nodes, ...(policy ? { policy } : {}) };
    };
    makeNode = () => makeWorld!().nodes.get(nodeName)!;
  }

  const probe = makeNode();
  const local = isLoopback(src) || probe.isLocal(src);
  const podCIDRs =
    snap?.node(nodeName)?.podCIDRs ?? (req.rules?.podCidr ? [tryParsePrefix(req.rules?.podCidr)!] : []);
  const inIface =
    req.inIface ??
    (makeWorld ? makeWorld().net.ingressFor(nodeName, src) : ingressInterface({ podCIDRs }, src));
  if (!local && !probe.routing.interface(inIface)) {
    throw usage(
      `--in-iface ${inIface}: node ${nodeName} has no such interface (it has ${probe.routing
        .interfaces()
        .map((i) => i.name)
        .join(', ')})`,
    );
  }
  if (req.size !== undefined && (!Number.isInteger(req.size) || req.size < 0 || req.size > 65507))
    throw usage(`--size ${req.size}: expected a payload size in bytes, 0 to 65507`);
  if (proto === 'icmp' && src.family !== 4)
    throw usage('--proto icmp traces IPv4 echo requests; use an IPv4 source');
  const pkt: Packet = makePacket(proto, src, dst, sport, dport, req.size, req.df);
  const entry = local
    ? `generated on ${nodeName} (the source is one of its addresses): starts at OUTPUT`
    : `arrives on ${inIface}${from?.pod ? ` from pod ${from.pod.meta.namespace}/${from.pod.meta.name}` : ''}: starts at PREROUTING`;
  /** ms: every trace starts with fresh kernels at time 0 */
  const now = 0;
  // A pod source starts in the pod's own namespace: out of its eth0, over the veth to its node.
  const podNs =
    from?.pod && makeWorld && !local && req.inIface === undefined
      ? podNsName(from.pod.meta.namespace, from.pod.meta.name)
      : undefined;
  const walk = (rng: Rng): { walk: WalkResult; world?: World; travel?: Travel } => {
    const world = makeWorld?.();
    const env = { now, rng, trace: true };
    if (world && podNs) {
      const podK = world.net.ns(podNs);
      if (podK) {
        const first = send(podK, pkt, env);
        const t = travel(world.net, podNs, first, env);
        const onNode = t.steps.find((x) => x.kind === 'stack' && x.ns === nodeName && !x.outer);
        return { walk: onNode?.kind === 'stack' ? onNode.walk : first, world, travel: t };
      }
    }
    const k = world ? world.nodes.get(nodeName)! : makeNode();
    const w = local ? send(k, pkt, env) : receive(k, pkt, inIface, env);
    if (!world) return { walk: w };
    return { walk: w, world, travel: travel(world.net, nodeName, w, env) };
  };

  let outcomes: { walk: WalkResult; probability: number; world?: World; travel?: Travel }[];
  let total: number;
  let note: string | undefined;
  const paths = enumeratePaths(walk, { baseSeed: () => new SeededRng(req.seed ?? 1) });
  total = paths.length;
  if (req.all) {
    outcomes = paths.map((p) => ({ ...p.result, probability: p.probability }));
  } else {
    const rng = new SeededPath(req.seed ?? 1);
    const w = walk(rng);
    outcomes = [{ ...w, probability: rng.probability }];
    if (total > 1)
      note = w.walk.ipvs
        ? `(one of ${total} possible paths: the IPVS scheduler's pick on a freshly programmed node, random rules chosen with seed ${req.seed ?? 1}; --all shows every real server the scheduler could pick, with its probability)`
        : `(one of ${total} possible paths, chosen with seed ${req.seed ?? 1}; --all shows every one with its probability)`;
    total = 1;
  }
  const results = outcomes.map((o): TraceOutcome => {
    const json = outcomeJson(o.walk, o.probability, now);
    if (!req.follow || !o.world || !o.travel) return { walk: o.walk, probability: o.probability, json };
    const env = { now, rng: new SeededRng(req.seed ?? 1) };
    const there = journeyWithPolicy(o.world, o.walk, o.travel);
    const back = followReply(o.world, there, env);
    const journey: TraceJourney = { there, ...(back ? { back } : {}) };
    // NetworkPolicy drops in filter FORWARD/OUTPUT, before conntrack confirms at POSTROUTING: a
    // packet dropped on this node (egress at its pod, or ingress at a pod here) leaves no entry.
    const dropped = [there.egress, there.ingress].find((p) => p && !p.verdict.allowed);
    if (dropped && dropped.node === nodeName && o.walk.ct) {
      o.world.nodes.get(nodeName)?.conntrack.deleteTuple(o.walk.ct.original, now);
      return {
        walk: o.walk,
        probability: o.probability,
        json: { ...json, conntrack: null },
        world: o.world,
        journey,
      };
    }
    return { walk: o.walk, probability: o.probability, json, world: o.world, journey };
  });
  return {
    nodeName,
    packet: pkt,
    local,
    inIface,
    entry,
    outcomes: results,
    total,
    ...(note ? { note } : {}),
  };
}
