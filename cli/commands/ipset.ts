/**
 * `kpath ipset`: the ipsets of one node in ipvs mode, exactly as `ipset save` (-o save, default) or
 * `ipset list` (-o list) print them after kube-proxy's sync; `-o restore` is the `ipset restore` input
 * equivalent to kube-proxy's create/add commands. The kernel draws each hash set's initval at random
 * and lists hash members in bucket order; kpath prints initval 0x00000000 and members in ascending order.
 */
import type { Argv } from 'yargs';
import { ipsetReferences, renderIpsetList, renderIpsetSave } from '../../netmodel/netfilter/index.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import { ipvsRenderFor, loadedNode } from './ipvs-node.js';

export const command = 'ipset';
export const describe = "a node's ipsets in ipvs mode, as `ipset save` or `ipset list` prints them";

export function builder(y: Argv) {
  return withFiles(y)
    .option('node', { type: 'string', description: 'the node (default: the first node)' })
    .option('o', {
      alias: 'output',
      type: 'string',
      choices: ['save', 'list', 'restore'],
      default: 'save',
      description: 'save: `ipset save`; list: `ipset list`; restore: the `ipset restore` input',
    })
    .option('family', {
      type: 'number',
      choices: [4, 6],
      default: 4,
      description: 'IPv4 sets (KUBE-...) or IPv6 sets (KUBE-6-...)',
    });
}

interface IpsetArgs {
  f?: string[];
  node?: string;
  o: 'save' | 'list' | 'restore';
  family: 4 | 6;
}

export async function run(args: IpsetArgs, io: CliIO): Promise<number> {
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  const nodeName = args.node ?? snap.nodes[0]?.meta.name;
  if (!nodeName || !snap.node(nodeName)) {
    io.err(
      `error: node "${args.node}" does not exist (nodes: ${snap.nodes.map((n) => n.meta.name).join(', ')})\n`,
    );
    return EXIT.FAILURE;
  }
  if (snap.proxy.mode !== 'ipvs')
    io.err(
      `note: the KubeProxyConfiguration says mode: ${snap.proxy.mode}, which uses no ipsets; showing what ipvs mode would create\n`,
    );
  const family = args.family ?? 4;
  if (!snap.config.serviceCIDRs.some((c) => c.ip.family === family)) {
    io.err(
      `error: the cluster has no IPv${family} service CIDR, so kube-proxy creates no IPv${family} sets\n`,
    );
    return EXIT.FAILURE;
  }
  const r = ipvsRenderFor(snap, nodeName, family);
  if (args.o === 'restore') {
    io.out(r.ipsetRestore);
    return EXIT.OK;
  }
  const k = loadedNode(nodeName, r);
  if (args.o === 'save') io.out(renderIpsetSave(k.nf.sets));
  else io.out(renderIpsetList(k.nf.sets, { references: ipsetReferences(k.save({ family })) }));
  return EXIT.OK;
}
