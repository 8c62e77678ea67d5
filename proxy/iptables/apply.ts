/**
 * Programming an emulated node the way kube-proxy programs a real one: on the first (full) sync it
 * creates the canary chains and the jump-target chains (`iptables -N`) and inserts the built-in-chain
 * jumps (`iptables -I CHAIN`, each at the top), then loads the payload with `iptables-restore
 * --noflush`. Later syncs only restore. What `iptables-save` then prints is what the node shows.
 */
import type { Family } from '../../netmodel/addr.js';
import type { KernelNode } from '../../netmodel/kernel/index.js';
import { canaryChains, ensuredChains, jumpInsertOrder, type Table } from './jumps.js';
import type { NodeRender, PartialSyncRender } from './render.js';

const TABLE_ORDER: readonly Table[] = ['mangle', 'nat', 'filter'];

function quote(a: string): string {
  return /[\s"]/.test(a) ? `"${a.replace(/"/g, '\\"')}"` : a;
}

/**
 * kube-proxy's setup commands as one iptables-restore --noflush script (same resulting ruleset as
 * the separate `-N` and `-I` calls).
 */
export function setupRestore(kubeletJumpsFirst = true): string {
  const all = jumpInsertOrder();
  const inserted = kubeletJumpsFirst
    ? [...all.filter((j) => j.kubelet), ...all.filter((j) => !j.kubelet)]
    : all;
  const lines: string[] = [];
  for (const table of TABLE_ORDER) {
    lines.push(`*${table}`);
    for (const c of canaryChains()) if (c.table === table) lines.push(`:${c.chain} - [0:0]`);
    for (const c of ensuredChains()) if (c.table === table) lines.push(`:${c.chain} - [0:0]`);
    for (const j of inserted)
      if (j.table === table) lines.push(`-I ${j.chain} 1 ${j.args.map(quote).join(' ')}`);
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

/** A full sync on an emulated node: setup (first time) then the payload. */
export function applyFullSync(
  node: KernelNode,
  r: NodeRender,
  opts: { family?: Family; setup?: boolean; kubeletJumpsFirst?: boolean } = {},
): void {
  const family = opts.family ?? 4;
  if (opts.setup ?? true)
    node.restore(setupRestore(opts.kubeletJumpsFirst ?? true), { family, noflush: true });
  node.restore(r.restore, { family, noflush: true });
}

/** A partial sync on an emulated node. */
export function applyPartialSync(
  node: KernelNode,
  r: PartialSyncRender,
  opts: { family?: Family } = {},
): void {
  node.restore(r.restore, { family: opts.family ?? 4, noflush: true });
}
