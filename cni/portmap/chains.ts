/**
 * The iptables operations the CNI plugins make through go-iptables, as data, and applying them to an
 * emulated node's rules. containernetworking/plugins creates chains and rules one call at a time and
 * only when missing (`utils.EnsureChain`, `utils.InsertUnique`, go-iptables `AppendUnique`), so
 * running the same ADD twice, or a second container's ADD, adds nothing shared twice; teardown
 * deletes the entry rules, then flushes and deletes the chain.
 *
 * Chain names: `CNI-` + a prefix + the hex SHA-512 of network name + container ID, cut to 28
 * characters (pkg/utils/utils.go MustFormatChainNameWithPrefix; FormatChainName has no prefix).
 */
import { createHash } from 'node:crypto';
import { KernelNode } from '../../netmodel/kernel/index.js';

export type IptTable = 'nat' | 'filter';

export type IptOp =
  /** `iptables -t T -N C` unless C exists. */
  | { readonly op: 'ensure-chain'; readonly table: IptTable; readonly chain: string }
  /** `-C` then, when missing, `-I C 1` (prepend) or `-A C`: InsertUnique / AppendUnique. */
  | {
      readonly op: 'add-unique';
      readonly table: IptTable;
      readonly chain: string;
      readonly prepend: boolean;
      readonly rule: readonly string[];
    }
  /** `iptables -t T -D C rule...`, ignoring "does not exist". */
  | {
      readonly op: 'delete';
      readonly table: IptTable;
      readonly chain: string;
      readonly rule: readonly string[];
    }
  /** `-F C` then `-X C` (go-iptables ClearAndDeleteChain), nothing when C does not exist. */
  | { readonly op: 'delete-chain'; readonly table: IptTable; readonly chain: string };

const MAX_CHAIN = 28;

/** Targets (not chains) the plugins' rules jump to. */
const TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'RETURN',
  'REJECT',
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'MARK',
  'REDIRECT',
]);

/** `CNI-` + prefix + sha512(name + id) in hex, 28 characters (utils.MustFormatChainNameWithPrefix). */
export function cniChainName(network: string, containerId: string, prefix = ''): string {
  const hash = createHash('sha512')
    .update(network + containerId)
    .digest('hex');
  return `CNI-${prefix}${hash}`.slice(0, MAX_CHAIN);
}

/** An argument as iptables-restore reads it (quoted when it has spaces or quotes). */
function arg(a: string): string {
  return /^[^\s"\\]+$/.test(a) ? a : `"${a.replace(/(["\\])/g, '\\$1')}"`;
}

function restoreLine(cmd: string, chain: string, rule: readonly string[]): string {
  return [cmd, chain, ...rule.map(arg)].join(' ');
}

function chainExists(k: KernelNode, table: IptTable, chain: string): boolean {
  return k.rules(4).tables.get(table)?.chains.has(chain) === true;
}

/** The rule as iptables-save prints it (`-A CHAIN ...`), parsed and rendered by the emulated iptables. */
function canonical(table: IptTable, chain: string, rule: readonly string[]): string {
  const scratch = new KernelNode({ name: 'scratch' });
  const chains = new Set<string>([chain]);
  // A jump to a user chain needs that chain declared (a target such as DNAT or MARK does not).
  const j = rule.indexOf('-j');
  const target = j >= 0 ? rule[j + 1] : undefined;
  if (target && !TARGETS.has(target)) chains.add(target);
  const builtins = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
  const decl = [...chains].filter((c) => !builtins.has(c)).map((c) => `:${c} - [0:0]`);
  scratch.restore([`*${table}`, ...decl, restoreLine('-A', chain, rule), 'COMMIT', ''].join('\n'), {
    noflush: true,
  });
  const line = scratch
    .save({ tables: [table] })
    .split('\n')
    .find((l) => l.startsWith(`-A ${chain} `));
  return line ?? restoreLine('-A', chain, rule);
}

function hasRule(k: KernelNode, table: IptTable, chain: string, rule: readonly string[]): boolean {
  if (!chainExists(k, table, chain)) return false;
  const want = canonical(table, chain, rule);
  return k
    .save({ tables: [table] })
    .split('\n')
    .some((l) => l === want);
}

/** Apply the operations to a node's IPv4 rules, as the plugin's sequence of iptables calls would. */
export function applyIptOps(k: KernelNode, ops: readonly IptOp[]): void {
  for (const o of ops) {
    const run = (lines: string[]) =>
      k.restore([`*${o.table}`, ...lines, 'COMMIT', ''].join('\n'), { noflush: true });
    switch (o.op) {
      case 'ensure-chain':
        if (!chainExists(k, o.table, o.chain)) run([`:${o.chain} - [0:0]`]);
        break;
      case 'add-unique':
        if (!hasRule(k, o.table, o.chain, o.rule))
          run([restoreLine(o.prepend ? '-I' : '-A', o.chain, o.prepend ? ['1', ...o.rule] : o.rule)]);
        break;
      case 'delete':
        if (hasRule(k, o.table, o.chain, o.rule)) run([restoreLine('-D', o.chain, o.rule)]);
        break;
      case 'delete-chain':
        if (chainExists(k, o.table, o.chain)) run([`-F ${o.chain}`, `-X ${o.chain}`]);
        break;
    }
  }
}
