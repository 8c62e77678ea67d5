/**
 * `kpath rules`: the iptables rules of one node as kube-proxy writes them, in the cluster's mode
 * (iptables, or ipvs: the constant ipset-matching rules).
 *   default            what `iptables-save` prints on that node after kube-proxy's full sync
 *   --format restore   the payload kube-proxy hands to `iptables-restore --noflush`
 *   --diff OTHER.yaml  the partial-sync payload kube-proxy writes when the cluster changes to OTHER
 *   --compare iptables,ipvs [--service NS/NAME]  what each mode writes for one service (rules-compare.ts)
 */
import type { Argv } from 'yargs';
import { KernelNode } from '../../netmodel/kernel/index.js';
import { applyFullSync, renderNode, renderPartialSync } from '../../proxy/iptables/index.js';
import { type CliIO, EXIT } from '../io.js';
import { loadOrReport, withFiles } from './common.js';
import { dockerHostState, onlyDocker } from './docker.js';
import { ipvsRenderFor, loadedNode } from './ipvs-node.js';
import { compareModes } from './rules-compare.js';

export const command = 'rules';
export const describe =
  "a node's iptables rules as kube-proxy writes them: iptables-save output, the restore payload, or a partial-sync diff";

export function builder(y: Argv) {
  return withFiles(y)
    .option('node', { type: 'string', description: 'the node (default: the first node)' })
    .option('table', { type: 'string', choices: ['nat', 'filter', 'mangle'], description: 'only this table' })
    .option('format', {
      type: 'string',
      choices: ['save', 'restore'],
      default: 'save',
      description: 'save: what iptables-save shows; restore: what kube-proxy sends to iptables-restore',
    })
    .option('diff', {
      type: 'string',
      description: 'print the partial-sync payload from -f to this cluster file',
    })
    .option('family', {
      type: 'number',
      choices: [4, 6],
      default: 4,
      description: 'IPv4 (iptables) or IPv6 (ip6tables) rules',
    })
    .option('counters', {
      type: 'boolean',
      default: false,
      description: 'save format with [packets:bytes] counters (all zero)',
    })
    .option('compare', {
      type: 'string',
      description: 'iptables,ipvs: for one service, the rules each mode writes, one after the other',
    })
    .option('service', {
      type: 'string',
      description:
        'with --compare: the service as NAMESPACE/NAME (default: the first service with endpoints)',
    });
}

interface RulesArgs {
  f?: string[];
  node?: string;
  table?: 'nat' | 'filter' | 'mangle';
  format: 'save' | 'restore';
  diff?: string;
  counters: boolean;
  family: 4 | 6;
  compare?: string;
  service?: string;
}

/** Keep only one `*table ... COMMIT` block of iptables-save or restore text. */
export function onlyTable(text: string, table: string | undefined): string {
  if (!table) return text;
  const out: string[] = [];
  let keep = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) keep = line === `*${table}`;
    if (keep) out.push(line);
    if (line === 'COMMIT') keep = false;
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

export async function run(args: RulesArgs, io: CliIO): Promise<number> {
  const snap = loadOrReport(args.f, io);
  if (typeof snap === 'number') return snap;
  // A Docker host is a node of its own: its rules are dockerd's (cli/commands/docker.ts).
  const docker = snap.dockerHosts.some((h) => h.name === args.node) || (!args.node && onlyDocker(snap));
  const dh = docker ? dockerHostState(snap, args.node) : undefined;
  if (dh) {
    io.out(onlyTable(dh.host.save({ counters: args.counters }), args.table));
    return EXIT.OK;
  }
  const nodeName = args.node ?? snap.nodes[0]?.meta.name;
  if (!nodeName || !snap.node(nodeName)) {
    io.err(
      `error: node "${args.node}" does not exist (nodes: ${snap.nodes.map((n) => n.meta.name).join(', ')})\n`,
    );
    return EXIT.FAILURE;
  }
  const family = args.family ?? 4;
  if (!snap.config.serviceCIDRs.some((c) => c.ip.family === family)) {
    io.err(
      `error: the cluster has no IPv${family} service CIDR (Cluster spec.serviceCIDR), so kube-proxy writes no IPv${family} rules\n`,
    );
    return EXIT.FAILURE;
  }
  if (args.compare !== undefined) {
    const modes = args.compare.split(',').map((m) => m.trim());
    if (modes.length !== 2 || !modes.includes('iptables') || !modes.includes('ipvs')) {
      io.err(`error: --compare takes "iptables,ipvs" (got "${args.compare}")\n`);
      return EXIT.INVALID;
    }
    const text = compareModes(snap, nodeName, family, args.service, modes as ('iptables' | 'ipvs')[]);
    if (typeof text !== 'string') {
      io.err(`error: ${text.error}\n`);
      return EXIT.INVALID;
    }
    io.out(text);
    return EXIT.OK;
  }
  if (snap.proxy.mode === 'ipvs') {
    let target = snap;
    if (args.diff) {
      const other = loadOrReport([args.diff], io);
      if (typeof other === 'number') return other;
      if (!other.node(nodeName)) {
        io.err(`error: node "${nodeName}" is not in ${args.diff}\n`);
        return EXIT.FAILURE;
      }
      target = other;
      io.err(
        `# ipvs mode has no partial sync: every sync restores the whole payload below for ${args.diff}; what changes between syncs is in the ipsets (\`kpath ipset\`) and the virtual servers\n`,
      );
    }
    const r = ipvsRenderFor(target, nodeName, family);
    if (args.diff || args.format === 'restore') {
      io.out(onlyTable(r.rules.restore, args.table));
      return EXIT.OK;
    }
    const k = loadedNode(nodeName, r);
    io.out(k.save({ family, counters: args.counters, ...(args.table ? { tables: [args.table] } : {}) }));
    return EXIT.OK;
  }
  if (snap.proxy.mode !== 'iptables') {
    io.err(
      `note: the KubeProxyConfiguration says mode: ${snap.proxy.mode}; showing what iptables mode would write\n`,
    );
  }
  const full = renderNode(snap, nodeName, { family });
  if (args.diff) {
    const other = loadOrReport([args.diff], io);
    if (typeof other === 'number') return other;
    if (!other.node(nodeName)) {
      io.err(`error: node "${nodeName}" is not in ${args.diff}\n`);
      return EXIT.FAILURE;
    }
    const partial = renderPartialSync(snap, other, nodeName, full.state, { family });
    io.err(
      `# partial sync on ${nodeName}: ${partial.updatedServices.length} service(s) rewritten` +
        `${partial.updatedServices.length ? ` (${partial.updatedServices.join(', ')})` : ''}, ${partial.deletedChains.length} chain(s) deleted\n`,
    );
    io.out(onlyTable(partial.restore, args.table));
    return EXIT.OK;
  }
  if (args.format === 'restore') {
    io.out(onlyTable(full.restore, args.table));
    return EXIT.OK;
  }
  const k = new KernelNode({ name: nodeName });
  applyFullSync(k, full, { family });
  io.out(k.save({ family, counters: args.counters, ...(args.table ? { tables: [args.table] } : {}) }));
  return EXIT.OK;
}
