/**
 * `kpath ipvs`: a node's IPVS as the ipvsadm tool prints it, after kube-proxy's ipvs proxier has
 * programmed it. From the manifests (a fresh node: no connections, zero counters) or, with --live,
 * from a running `kpath up --mode ipvs` (the real connections it decided and their counters).
 *
 *   -o ipvsadm (default)  `ipvsadm -Ln`; with --stats `ipvsadm -Ln --stats`; with --connections `ipvsadm -Lnc`
 *   -o save               `ipvsadm-save -n`
 *   -o json               { node, version, size, timeouts, services: [...], connections?: [...] }
 */
import type { Argv } from 'yargs';
import { ClusterDatapath } from '../../proxy/datapath.js';
import { type IpvsOutputs, ipvsOutputs, programIpvs } from '../../proxy/ipvs/index.js';
import { fetchAdmin } from '../../proxy/runtime/admin-client.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import { withAdmin } from './conntrack.js';

export const command = 'ipvs';
export const describe = "a node's IPVS in ipvs mode, as ipvsadm prints it (-Ln, --stats, -Lnc, ipvsadm-save)";

export function builder(y: Argv) {
  return withAdmin(withFiles(y))
    .option('node', { type: 'string', description: 'the node (default: the first node)' })
    .option('o', {
      alias: 'output',
      type: 'string',
      choices: ['ipvsadm', 'save', 'json'],
      default: 'ipvsadm',
      description: 'ipvsadm: `ipvsadm -Ln`; save: `ipvsadm-save -n`; json',
    })
    .option('stats', { type: 'boolean', default: false, description: 'counters, as `ipvsadm -Ln --stats`' })
    .option('connections', {
      alias: 'c',
      type: 'boolean',
      default: false,
      description: 'the connection table, as `ipvsadm -Lnc`',
    })
    .option('live', {
      type: 'boolean',
      default: false,
      description: 'read the running `kpath up --mode ipvs` (its --admin address) instead of the manifests',
    })
    .example('$0 ipvs -f examples/ipvs', 'the virtual servers kube-proxy programs on the first node')
    .example('$0 ipvs --live --connections', 'the real connections a running kpath up --mode ipvs decided');
}

interface Args {
  f?: string[];
  admin: string;
  node?: string;
  o: 'ipvsadm' | 'save' | 'json';
  stats: boolean;
  connections: boolean;
  live: boolean;
}

/** What the running kpath up answers at /api/v1/ipvs: each node's outputs, rendered there. */
export interface LiveIpvs {
  readonly mode: string | undefined;
  readonly nodes: Record<string, IpvsOutputs>;
}

function pick(o: IpvsOutputs, args: Args): string {
  if (args.o === 'json') return `${JSON.stringify(o.json, null, 2)}\n`;
  if (args.o === 'save') return o.save;
  if (args.connections) return o.connections;
  return args.stats ? o.stats : o.list;
}

export async function run(args: Args, io: CliIO): Promise<number> {
  if (args.live) {
    const r = await fetchAdmin<LiveIpvs>(args.admin, '/api/v1/ipvs');
    const names = Object.keys(r.nodes ?? {});
    if (!names.length) {
      io.err(
        `error: the running kpath up is in ${r.mode ?? 'an unknown'} mode, which has no IPVS (start it with --mode ipvs)\n`,
      );
      return EXIT.FAILURE;
    }
    const name = args.node ?? names[0]!;
    const o = r.nodes[name];
    if (!o) {
      io.err(`error: node "${name}" does not exist (nodes: ${names.join(', ')})\n`);
      return EXIT.FAILURE;
    }
    io.out(pick(o, args));
    return EXIT.OK;
  }
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  const name = args.node ?? snap.nodes[0]?.meta.name;
  if (!name || !snap.node(name)) {
    io.err(
      `error: node "${args.node}" does not exist (nodes: ${snap.nodes.map((n) => n.meta.name).join(', ')})\n`,
    );
    return EXIT.FAILURE;
  }
  if (snap.proxy.mode !== 'ipvs')
    io.err(
      `note: the KubeProxyConfiguration says mode: ${snap.proxy.mode}, which programs no IPVS; showing what ipvs mode would program\n`,
    );
  const dp = ClusterDatapath.build(snap, { mode: 'ipvs', ipvs: programIpvs });
  const table = dp.node(name).ipvs!;
  io.out(pick(ipvsOutputs(name, table, 0), args));
  return EXIT.OK;
}
