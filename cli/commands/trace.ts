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
import { CaptureCollector, captureTravel } from '../../netmodel/capture/index.js';
import type { ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { packetJson } from '../../netmodel/trace/index.js';
import { computeTrace } from '../../proxy/trace-compute.js';
import { journeyJson, renderTraceText } from '../format/trace.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import { dockerHostState, dockerTraceRequest, dockerTraceText } from './docker.js';

export const command = 'trace';
export const describe =
  'walk one packet through a node: every hook, table, chain and rule, DNAT and masquerade, conntrack; then follow it to the pod it reaches (with the NetworkPolicy stage on each side) and back';

export function builder(y: Argv) {
  return withFiles(y)
    .option('node', {
      type: 'string',
      description: "the node whose kernel the packet goes through (default: the --from pod's node)",
    })
    .option('from', {
      type: 'string',
      description: 'source shorthand: pod/NS/NAME, node/NAME, or container/NAME of a Docker host',
    })
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
      description:
        'every reachable outcome with its probability (ipvs mode: every real server the scheduler could pick)',
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

export async function run(args: TraceArgs, io: CliIO): Promise<number> {
  let snap: ClusterSnapshot | undefined;
  if (!args.rules) {
    const s = loadOrReport(args.f, io);
    if (typeof s === 'number') return s;
    snap = s;
    // A Docker host is a node of its own: its trace is dockerd's (cli/commands/docker.ts).
    const docker = dockerTraceRequest(snap, args);
    if (docker) {
      if (args.proto !== undefined && args.proto !== 'tcp' && args.proto !== 'udp')
        throw usage(`--proto ${args.proto}: a trace through a Docker host is tcp or udp`);
      const st = dockerHostState(snap, docker.host)!;
      io.out(dockerTraceText(st, docker.from, docker.to, args.proto ?? 'tcp', args.output));
      return EXIT.OK;
    }
  }
  const rulesFile = args.rules;
  const t = computeTrace({
    ...(snap ? { snapshot: snap } : {}),
    ...(rulesFile
      ? {
          rules: {
            read: () => {
              try {
                return readFileSync(resolve(io.cwd, rulesFile), 'utf8');
              } catch (e) {
                throw new KpathError(
                  ErrorCodes.MANIFEST,
                  `${rulesFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`,
                );
              }
            },
            ...(args.nodeAddress ? { nodeAddress: args.nodeAddress } : {}),
            ...(args.podCidr ? { podCidr: args.podCidr } : {}),
          },
        }
      : {}),
    ...(args.node !== undefined ? { node: args.node } : {}),
    ...(args.from !== undefined ? { from: args.from } : {}),
    ...(args.to !== undefined ? { to: args.to } : {}),
    ...(args.src !== undefined ? { src: args.src } : {}),
    ...(args.dst !== undefined ? { dst: args.dst } : {}),
    ...(args.proto !== undefined ? { proto: args.proto } : {}),
    ...(args.size !== undefined ? { size: args.size } : {}),
    ...(args.df !== undefined ? { df: args.df } : {}),
    ...(args.inIface !== undefined ? { inIface: args.inIface } : {}),
    ...(args.seed !== undefined ? { seed: args.seed } : {}),
    all: args.all,
    follow: args.follow,
  });
  const json = t.outcomes.map((o) => {
    if (!o.journey) return { walk: o.walk, json: o.json };
    return { walk: o.walk, journey: o.journey, json: { ...o.json, path: journeyJson(o.journey) } };
  });
  if (args.pcap) {
    const cap = new CaptureCollector({ startMicros: 0n });
    let followed = false;
    for (const o of json) {
      if (!o.journey) continue;
      followed = true;
      captureTravel(cap, o.journey.there.travel);
      if (o.journey.back) captureTravel(cap, o.journey.back.travel);
    }
    // A followed packet that never reached a wire (EMSGSIZE in the sender) is an empty capture.
    if (!followed)
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
      `${JSON.stringify({ node: t.nodeName, packet: packetJson(t.local ? t.packet : { ...t.packet, iif: t.inIface }), entry: t.local ? 'OUTPUT' : 'PREROUTING', outcomes: json.map((j) => j.json) }, null, 2)}\n`,
    );
  } else {
    io.out(
      renderTraceText({
        nodeName: t.nodeName,
        packet: t.packet,
        entry: t.entry,
        outcomes: json,
        total: t.total,
        ...(t.note ? { note: t.note } : {}),
      }),
    );
  }
  return EXIT.OK;
}
