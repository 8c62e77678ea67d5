/**
 * One emulated Linux network namespace (a node, or a pod): interfaces and routes, the iptables
 * rulesets (IPv4 and IPv6), the netfilter state that lives outside rules (recent lists, ipsets, nfacct)
 * and the conntrack table. Mutable kernel state, explicitly owned; no clock, no randomness.
 */
import type { Family, IP } from '../addr.js';
import { type ConntrackSysctls, ConntrackTable } from '../conntrack/index.js';
import type { Link } from '../devices/index.js';
import { NeighTable } from '../devices/index.js';
import type { IpvsTable } from '../ipvs/table.js';
import {
  emptyRuleset,
  FlowCache,
  IpSetStore,
  loadRestore,
  NetfilterState,
  NfAcct,
  RecentTables,
  type Ruleset,
  renderSave,
} from '../netfilter/index.js';
import { type AddrType, type InterfaceInit, RoutingNode } from '../routing/index.js';

/**
 * iptables-nft's table order in iptables-save output (enum nft_table_type: mangle, security, raw,
 * filter, nat; kpath has no security table).
 */
export const SAVE_ORDER = ['mangle', 'raw', 'filter', 'nat'] as const;

export interface KernelNodeOptions {
  readonly name: string;
  /** net.ipv4.ip_forward (default true: a Kubernetes node forwards). */
  readonly ipForward?: boolean;
  readonly conntrack?: Partial<ConntrackSysctls>;
  /** Carry state over from a previous incarnation of the node (a topology rebuild keeps flows and recent lists). */
  readonly keep?: KernelNode;
  /**
   * Track connections only while a loaded rule needs conntrack, as Linux does: the hooks are
   * registered in a namespace by the rules that take a reference on it (a NAT target, a conntrack,
   * state or connmark match, CONNMARK, CT/NOTRACK); with none loaded no entry is made and the nat
   * chains never run. Default false (always track): kpath's nodes carry kube-proxy's rules, and the
   * proxy keeps its connections in the table in every mode.
   */
  readonly conntrackOnDemand?: boolean;
  /** The node's IPVS (kube-proxy ipvs mode); none by default. */
  readonly ipvs?: IpvsTable;
}

const CT_MATCHES: ReadonlySet<string> = new Set(['conntrack', 'state', 'connmark']);
const CT_TARGETS: ReadonlySet<string> = new Set([
  'DNAT',
  'SNAT',
  'MASQUERADE',
  'REDIRECT',
  'CONNMARK',
  'CT',
  'NOTRACK',
]);
const ctUse = new WeakMap<Ruleset, boolean>();

/** Does any rule of the ruleset (referenced or not) need conntrack in the namespace? */
function rulesNeedConntrack(rs: Ruleset): boolean {
  let v = ctUse.get(rs);
  if (v === undefined) {
    v = false;
    for (const t of rs.tables.values())
      for (const c of t.chains.values())
        for (const r of c.rules)
          if ((r.target && CT_TARGETS.has(r.target.kind)) || r.matches.some((m) => CT_MATCHES.has(m.kind)))
            v = true;
    ctUse.set(rs, v);
  }
  return v;
}

export class KernelNode {
  readonly name: string;
  readonly routing: RoutingNode;
  readonly conntrack: ConntrackTable;
  readonly nf: NetfilterState;
  readonly conntrackOnDemand: boolean;
  /** The emulated kernel IPVS, when the ip_vs module is in use on this node (kube-proxy ipvs mode). */
  ipvs: IpvsTable | undefined;
  /** The link layer of each device (MAC, veth peer, bridge FDB, vxlan settings), by interface name. */
  readonly links = new Map<string, Link>();
  /** The neighbour (ARP) table. */
  readonly neigh = new NeighTable();
  /**
   * The megaflow cache of table evaluations (netmodel/netfilter/flow-cache.ts): untraced walks replay a
   * chain's result for packets of the same flow shape. It empties itself when the rules, the ipsets or
   * the routing change.
   */
  readonly flowCache = new FlowCache();
  /** `-m addrtype`'s question to this node's routing (the walker's EvalContext.addrType), made once. */
  readonly addrType = (ip: IP, dev: string | undefined): AddrType => this.routing.addrType(ip, dev);
  private rules4: Ruleset = emptyRuleset(4);
  private rules6: Ruleset = emptyRuleset(6);

  constructor(opts: KernelNodeOptions) {
    this.name = opts.name;
    this.routing = new RoutingNode({ ipForward: opts.ipForward ?? true });
    this.conntrack =
      opts.keep?.conntrack ?? new ConntrackTable(opts.conntrack ? { sysctls: opts.conntrack } : {});
    this.nf = opts.keep?.nf ?? new NetfilterState(new RecentTables(), new IpSetStore(), new NfAcct());
    this.conntrackOnDemand = opts.conntrackOnDemand ?? opts.keep?.conntrackOnDemand ?? false;
    this.ipvs = opts.ipvs ?? opts.keep?.ipvs;
    if (opts.keep) {
      this.rules4 = opts.keep.rules4;
      this.rules6 = opts.keep.rules6;
    }
  }

  /** `ip link add` (and `up`): the routing interface and its link layer in one step. */
  addDevice(init: InterfaceInit, link: Omit<Link, 'name'>): void {
    this.routing.addInterface(init);
    this.links.set(init.name, { name: init.name, ...link });
  }

  /** The link layer of a device, if it has one (interfaces made without addDevice have none). */
  link(name: string): Link | undefined {
    return this.links.get(name);
  }

  /** Is connection tracking hooked in for this family (always, unless conntrackOnDemand)? */
  conntrackActive(family: Family = 4): boolean {
    return !this.conntrackOnDemand || rulesNeedConntrack(this.rules(family));
  }

  rules(family: Family = 4): Ruleset {
    return family === 4 ? this.rules4 : this.rules6;
  }

  /** Replace the ruleset wholesale (e.g. a parsed iptables-save dump). */
  setRules(rs: Ruleset): void {
    if (rs.family === 4) this.rules4 = rs;
    else this.rules6 = rs;
  }

  /**
   * iptables-restore (or ip6tables-restore) on this node. Throws KpathError(RULES) naming the line;
   * on error nothing changes, as iptables-restore's atomic commit.
   */
  restore(text: string, opts: { family?: Family; noflush?: boolean; counters?: boolean } = {}): void {
    const family = opts.family ?? 4;
    const next = loadRestore(this.rules(family), text, {
      ...(opts.noflush !== undefined ? { noflush: opts.noflush } : {}),
      ...(opts.counters !== undefined ? { counters: opts.counters } : {}),
    });
    this.setRules(next);
  }

  /** iptables-save on this node. */
  save(
    opts: {
      family?: Family;
      counters?: boolean;
      tables?: readonly ('raw' | 'mangle' | 'nat' | 'filter')[];
    } = {},
  ): string {
    // Tables in the order iptables-nft prints them (enum nft_table_type), whatever order they were made in.
    const rs = this.rules(opts.family ?? 4);
    return renderSave(rs, {
      ...(opts.counters !== undefined ? { counters: opts.counters } : {}),
      tables: opts.tables ?? SAVE_ORDER.filter((t) => rs.tables.has(t)),
    });
  }

  /** Is `ip` an address of this node (or in a local route, like 127.0.0.0/8)? */
  isLocal(ip: IP): boolean {
    return this.routing.isLocal(ip);
  }
}
