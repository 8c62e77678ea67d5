/**
 * `kpath net`: what iproute2 prints in one emulated namespace, a node's or a pod's.
 *
 *   kpath net --node worker-1 ip-route
 *   kpath net --pod default/client ip-addr
 *   kpath net --node worker-2 bridge-fdb
 */
import type { Argv } from 'yargs';
import { buildHostNetwork } from '../../cni/index.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import {
  formatBridgeFdb,
  formatIpAddr,
  formatIpLink,
  formatIpNeigh,
  formatIpRoute,
  podNsName,
} from '../../netmodel/kernel/index.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import { dockerNetFor, dockerNetText } from './docker.js';

export const command = 'net [what]';
export const describe =
  "print a node's or a pod's network namespace as iproute2 shows it: ip-addr, ip-link, ip-route, ip-neigh, bridge-fdb";

const WHAT = ['ip-addr', 'ip-link', 'ip-route', 'ip-neigh', 'bridge-fdb'] as const;

export function builder(y: Argv) {
  return withFiles(y)
    .positional('what', {
      type: 'string',
      choices: WHAT,
      default: 'ip-addr',
      description: 'which command: ip addr, ip link, ip route, ip neigh, bridge fdb',
    })
    .option('node', { type: 'string', description: "the node's namespace (default: the first node)" })
    .option('pod', { type: 'string', description: "a pod's namespace, NAMESPACE/NAME" })
    .option('container', { type: 'string', description: "a Docker host's container's namespace, NAME" })
    .conflicts('node', 'pod')
    .conflicts('container', 'pod');
}

interface NetArgs {
  f?: string[];
  what: (typeof WHAT)[number];
  node?: string;
  pod?: string;
  container?: string;
}

export async function run(args: NetArgs, io: CliIO): Promise<number> {
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  // A Docker host is a node of its own, built as dockerd leaves it (cli/commands/docker.ts).
  const docker = dockerNetFor(snap, args);
  if (docker) {
    io.out(dockerNetText(docker, args.what, args.container));
    return EXIT.OK;
  }
  const net = buildHostNetwork(snap);
  let ns: string;
  if (args.pod) {
    const [namespace, name, ...rest] = args.pod.split('/');
    if (!namespace || !name || rest.length)
      throw new KpathError(
        ErrorCodes.USAGE,
        `--pod ${args.pod}: expected NAMESPACE/NAME, e.g. default/client`,
      );
    if (!snap.pod(namespace, name))
      throw new KpathError(ErrorCodes.NOT_FOUND, `pod ${args.pod} does not exist (see: kpath get pods -A)`);
    ns = podNsName(namespace, name);
    if (!net.ns(ns))
      throw new KpathError(
        ErrorCodes.NOT_FOUND,
        `pod ${args.pod} has no network namespace of its own (hostNetwork, or no IP yet): see --node`,
      );
  } else {
    const name = args.node ?? snap.nodes[0]?.meta.name;
    if (!name || !net.nodes.has(name))
      throw new KpathError(
        ErrorCodes.NOT_FOUND,
        `node "${args.node}" does not exist (nodes: ${snap.nodes.map((n) => n.meta.name).join(', ')})`,
      );
    ns = name;
  }
  const k = net.ns(ns)!;
  const ctx = { world: net, ns };
  switch (args.what) {
    case 'ip-addr':
      io.out(formatIpAddr(k, ctx));
      break;
    case 'ip-link':
      io.out(formatIpLink(k, ctx));
      break;
    case 'ip-route':
      io.out(formatIpRoute(k));
      break;
    case 'ip-neigh':
      io.out(formatIpNeigh(k));
      break;
    case 'bridge-fdb':
      io.out(formatBridgeFdb(k));
      break;
  }
  return EXIT.OK;
}
