/**
 * `kpath trace`: one packet through one node's emulated kernel, hop by hop.
 *
 *   kpath trace --from pod/default/client --to svc/default/web:80
 *   kpath trace --node worker-1 --src 10.0.0.99 --dst 10.0.0.12:30080 --all -o json
 *   kpath trace --rules node-dump.txt --node-address 10.0.0.11/24 --src 10.244.1.5 --dst 10.96.0.10:53 --proto udp
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Argv } from 'yargs';
import { buildHostNetwork, ingressInterface } from '../../cni/index.js';
import { type IP, isLoopback, prefixNth, tryParseHostPort, tryParsePrefix } from '../../netmodel/addr.js';
import type { ClusterSnapshot, Pod, Service } from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import {
  CaptureCollector,
  captureTravel,
  KernelNode,
  podNsName,
  receive,
  send,
  type Travel,
  travel,
  type WalkResult,
} from '../../netmodel/kernel/index.js';
import { parseSave } from '../../netmodel/netfilter/index.js';
import { type L4Proto, type Packet, packet } from '../../netmodel/packet.js';
import { type Rng, SeededRng } from '../../netmodel/rng.js';
import { enumeratePaths, outcomeJson, packetJson } from '../../netmodel/trace/index.js';
import { programIpvs } from '../../proxy/datapath.js';
import { applyFullSync, renderNode } from '../../proxy/iptables/index.js';
import { followReply, journeyWithPolicy, type World } from '../../proxy/trace-follow.js';
import { policyHooks } from '../../proxy/trace-policy.js';
import { journeyJson, renderTraceText, type TraceJourney } from '../format/trace.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';

export const command = 'trace';
export const describe =
  'walk one packet through a node: every hook, table, chain and rule, DNAT and masquerade, conntrack; then follow it to the pod it reaches (with the NetworkPolicy stage on each side) and back';

export function builder(y: Argv) {
  return withFiles(y)
    .option('node', {
      type: 'string',
      description: "the node whose kernel the packet goes through (default: the --from pod's node)",
    })
    .option('from', { type: 'string', description: 'source shorthand: pod/NS/NAME or node/NAME' })
    .option('to', {
      type: 'string',
      description: 'destination shorthand: svc/NS/NAME[:PORT], pod/NS/NAME:PORT or node/NAME:PORT',
    })
    .option('src', { type: 'string', description: 'source IP[:PORT]' })
    .option('dst', { type: 'string', description: 'destination IP:PORT' })
    .option('proto', {
      type: 'string',
      choices: ['tcp', 'udp', 'sctp', 'icmp'],
      description: "protocol (default tcp, or the service port's); icmp: an echo request as ping sends it",
    })
    .option('size', {
      type: 'number',
      description:
        "payload bytes (ping -s; the UDP or TCP payload); default: ping's 56 for icmp, a bare SYN for tcp",
    })
    .option('df', {
      type: 'boolean',
      description:
        "Don't Fragment. Default: as Linux's path MTU discovery (DF set when the packet fits the first hop, else fragmented by the sender); --df: always (ping -M do: too big for the sender's MTU fails with EMSGSIZE, too big for a later hop is dropped there with ICMP fragmentation needed); --no-df: never (ping -M dont: fragments)",
    })
    .option('in-iface', {
      type: 'string',
      description: 'the interface the packet arrives on (default: cni0 for pod sources, eth0 otherwise)',
    })
    .option('pcap', {
      type: 'string',
      description:
        'write every frame of the followed packet and its reply, as each interface would see it, to this pcapng file (interfaces NODE/DEVICE, pod/NS/NAME/eth0)',
    })
    .option('seed', { type: 'number', description: 'follow one reproducible random path' })
    .option('all', {
      type: 'boolean',
      default: false,
      description: 'every reachable outcome with its probability',
    })
    .option('output', { alias: 'o', type: 'string', choices: ['text', 'json'], default: 'text' })
    .option('follow', {
      type: 'boolean',
      default: true,
      description:
        'follow the packet to the node and pod it reaches, and the reply back (--no-follow: this node only)',
    })
    .option('rules', {
      type: 'string',
      description: 'trace through this iptables-save dump instead of rendered kube-proxy rules',
    })
    .option('node-address', {
      type: 'string',
      array: true,
      description: "with --rules: the node's addresses on eth0, CIDR form (repeatable)",
    })
    .option('pod-cidr', {
      type: 'string',
      description: "with --rules: this node's pod CIDR (a cni0 bridge gets its .1)",
    });
}

interface TraceArgs {
  f?: string[];
  node?: string;
  from?: string;
  to?: string;
  src?: string;
  dst?: string;
  proto?: 'tcp' | 'udp' | 'sctp' | 'icmp';
  size?: number;
  df?: boolean;
  inIface?: string;
  pcap?: string;
  seed?: number;
  all: boolean;
  output: 'text' | 'json';
  rules?: string;
  follow: boolean;
  nodeAddress?: string[];
  podCidr?: string;
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

export async function run(args: TraceArgs, io: CliIO): Promise<number> {
  let snap: ClusterSnapshot | undefined;
  if (!args.rules) {
    const s = loadOrReport(args.f, io);
    if (typeof s === 'number') return s;
    snap = s;
  }
  const from = args.from ? parseFrom(args.from, snap) : undefined;
  const to = args.to ? parseTo(args.to, snap) : undefined;
  const srcHP = args.src ? (tryParseHostPort(args.src, 43210) ?? undefined) : undefined;
  if (args.src && !srcHP) throw usage(`--src ${args.src}: expected IP or IP:PORT`);
  const dstHP = args.dst ? tryParseHostPort(args.dst) : undefined;
  if (args.dst && !dstHP) throw usage(`--dst ${args.dst}: expected IP:PORT`);
  const src = from?.ip ?? srcHP?.ip;
  const dst = to?.ip ?? dstHP?.ip;
  if (!src || !dst) throw usage('give a source (--from or --src) and a destination (--to or --dst)');
  if (src.family !== dst.family)
    throw usage(`source ${src.text} and destination ${dst.text} are different address families`);
  const dport = to?.port ?? dstHP?.port ?? 0;
  const sport = srcHP?.port ?? 43210;
  const proto: L4Proto = args.proto ?? to?.proto ?? 'tcp';
  const nodeName = args.node ?? from?.node ?? (args.rules ? 'node' : undefined);
  if (!nodeName) throw usage('name the node (--node NAME), or trace --from a pod (its node is used)');

  // The node's kernel, fresh for every walk (each path starts from the same state).
  let makeNode: () => KernelNode;
  let makeWorld: (() => World) | undefined;
  if (args.rules) {
    const dumpPath = resolve(io.cwd, args.rules);
    let text: string;
    try {
      text = readFileSync(dumpPath, 'utf8');
    } catch (e) {
      throw new KpathError(
        ErrorCodes.MANIFEST,
        `${args.rules}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
    const rs = parseSave(text, { family: src.family });
    const addrs = (args.nodeAddress ?? []).map((a) => {
      const p = tryParsePrefix(a);
      if (!p || !a.includes('/')) throw usage(`--node-address ${a}: expected CIDR form such as 10.0.0.11/24`);
      return a;
    });
    const pod = args.podCidr ? tryParsePrefix(args.podCidr, { strict: true }) : undefined;
    if (args.podCidr && !pod)
      throw usage(`--pod-cidr ${args.podCidr}: expected a CIDR such as 10.244.1.0/24`);
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
  const podCIDRs = snap?.node(nodeName)?.podCIDRs ?? (args.podCidr ? [tryParsePrefix(args.podCidr)!] : []);
  const inIface =
    args.inIface ??
    (makeWorld ? makeWorld().net.ingressFor(nodeName, src) : ingressInterface({ podCIDRs }, src));
  if (!local && !probe.routing.interface(inIface)) {
    throw usage(
      `--in-iface ${inIface}: node ${nodeName} has no such interface (it has ${probe.routing
        .interfaces()
        .map((i) => i.name)
        .join(', ')})`,
    );
  }
  if (args.size !== undefined && (!Number.isInteger(args.size) || args.size < 0 || args.size > 65507))
    throw usage(`--size ${args.size}: expected a payload size in bytes, 0 to 65507`);
  if (proto === 'icmp' && src.family !== 4)
    throw usage('--proto icmp traces IPv4 echo requests; use an IPv4 source');
  const pkt: Packet = makePacket(proto, src, dst, sport, dport, args.size, args.df);
  const entry = local
    ? `generated on ${nodeName} (the source is one of its addresses): starts at OUTPUT`
    : `arrives on ${inIface}${from?.pod ? ` from pod ${from.pod.meta.namespace}/${from.pod.meta.name}` : ''}: starts at PREROUTING`;
  const now = 0;
  // A pod source starts in the pod's own namespace: out of its eth0, over the veth to its node.
  const podNs =
    from?.pod && makeWorld && !local && args.inIface === undefined
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
  const paths = enumeratePaths(walk, { baseSeed: () => new SeededRng(args.seed ?? 1) });
  total = paths.length;
  if (args.all) {
    outcomes = paths.map((p) => ({ ...p.result, probability: p.probability }));
  } else {
    const rng = new SeededPath(args.seed ?? 1);
    const w = walk(rng);
    outcomes = [{ ...w, probability: rng.probability }];
    if (total > 1)
      note = `(one of ${total} possible paths, chosen with seed ${args.seed ?? 1}; --all shows every one with its probability)`;
    total = 1;
  }
  const json = outcomes.map((o) => {
    const base = outcomeJson(o.walk, o.probability, now);
    if (!args.follow || !o.world || !o.travel) return { walk: o.walk, json: base };
    const env = { now, rng: new SeededRng(args.seed ?? 1) };
    const there = journeyWithPolicy(o.world, o.walk, o.travel);
    const back = followReply(o.world, there, env);
    const journey: TraceJourney = { there, ...(back ? { back } : {}) };
    return { walk: o.walk, journey, json: { ...base, path: journeyJson(journey) } };
  });
  if (args.pcap) {
    const cap = new CaptureCollector({ startMicros: 0n });
    for (const o of json) {
      if (!o.journey) continue;
      captureTravel(cap, o.journey.there.travel);
      if (o.journey.back) captureTravel(cap, o.journey.back.travel);
    }
    if (cap.size === 0)
      throw usage('--pcap needs a followed packet through a cluster (not --rules or --no-follow)');
    const file = resolve(io.cwd, args.pcap);
    try {
      writeFileSync(file, cap.toPcapng('kpath trace'));
    } catch (e) {
      throw new KpathError(
        ErrorCodes.USAGE,
        `--pcap ${args.pcap}: cannot write (${(e as NodeJS.ErrnoException).code ?? e})`,
      );
    }
  }
  if (args.output === 'json') {
    io.out(
      `${JSON.stringify({ node: nodeName, packet: packetJson(local ? pkt : { ...pkt, iif: inIface }), entry: local ? 'OUTPUT' : 'PREROUTING', outcomes: json.map((j) => j.json) }, null, 2)}\n`,
    );
  } else {
    io.out(
      renderTraceText({ nodeName, packet: pkt, entry, outcomes: json, total, ...(note ? { note } : {}) }),
    );
  }
  return EXIT.OK;
}
