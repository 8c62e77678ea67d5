/**
 * What evaluation needs from outside netfilter (plain data and functions), and what it returns.
 */
import type { IP } from '../addr.js';
import type { L4Proto, Packet } from '../packet.js';
import type { Rng } from '../rng.js';
import type { IpSetStore } from './ipset.js';
import type { AddrType, Match } from './match.js';
import type { NfAcct } from './nfacct.js';
import type { RecentTables } from './recent.js';
import type { Counters, Rule, TableName } from './ruleset.js';
import type { RejectWith } from './target.js';

export interface CtTuple {
  readonly proto: L4Proto;
  readonly src: IP;
  readonly dst: IP;
  readonly sport: number;
  readonly dport: number;
}

/**
 * The conntrack entry of the packet's flow, as the conntrack/state matches and CONNMARK see it.
 * INVALID and UNTRACKED mean there is no entry (the other fields are then ignored).
 */
export interface CtView {
  readonly state: 'NEW' | 'ESTABLISHED' | 'RELATED' | 'INVALID' | 'UNTRACKED';
  /** Direction of this packet; default ORIGINAL. */
  readonly dir?: 'ORIGINAL' | 'REPLY';
  /** CtStatus bits (EXPECTED, SEEN_REPLY, ASSURED, CONFIRMED, SRC_NAT, DST_NAT). */
  readonly status?: number;
  /** ct mark; default 0. */
  readonly mark?: number;
  readonly orig?: CtTuple;
  readonly reply?: CtTuple;
}

/** What xt_ipvs reads from a packet's IPVS connection. */
export interface IpvsPacketView {
  /** The virtual server's address, port and protocol number. */
  readonly vaddr: IP;
  readonly vport: number;
  readonly vproto: number;
  /** The packet travels in the connection's original direction (client to virtual server). */
  readonly original: boolean;
  readonly method: 'GATE' | 'IPIP' | 'MASQ';
  /** The controlling connection's virtual port (FTP data connections), 0 when none. */
  readonly vportctl?: number;
}

/** Mutable netfilter state that lives outside the rules. */
export class NetfilterState {
  /** statistic --mode nth counters, per match object. */
  readonly nth = new WeakMap<Match, { count: number }>();
  constructor(
    readonly recent: RecentTables,
    readonly sets: IpSetStore,
    readonly nfacct: NfAcct,
  ) {}
}

export interface EvalContext {
  /** Current time, ms (recent match). */
  readonly now: number;
  readonly rng: Rng;
  /** The flow's conntrack entry; undefined means none, which the kernel reports as INVALID. */
  readonly ct?: CtView;
  /**
   * The route type of an address on this node (addrtype match), optionally limited to one device
   * (--limit-iface-in/out). Default: 224.0.0.0/4 and ff00::/8 MULTICAST, 255.255.255.255 BROADCAST,
   * everything else UNICAST.
   */
  readonly addrType?: (ip: IP, dev: string | undefined) => AddrType;
  /**
   * The IPVS connection this packet belongs to (skb->ipvs_property set), for `-m ipvs`; undefined when
   * IPVS did not handle it. Filled in by the kernel's IPVS stage.
   */
  readonly ipvs?: IpvsPacketView;
  /** Bridge ports when the packet is bridged (br_netfilter); undefined when it is not. */
  readonly physdev?: { readonly in?: string; readonly out?: string };
  readonly state: NetfilterState;
  /** Record chain entries and matched rules (with their iptables-save text). */
  readonly trace?: boolean;
  /** Use the dispatch index (default true). The verdicts are identical either way. */
  readonly index?: boolean;
  /**
   * Each counter the evaluation adds one packet to (the matched rules', the policy's) is also pushed
   * here, in traversal order: what the flow cache replays for later packets of the same shape.
   */
  readonly counted?: Counters[];
}

export type Verdict =
  | { readonly kind: 'ACCEPT' }
  | { readonly kind: 'DROP' }
  | { readonly kind: 'REJECT'; readonly with: RejectWith };

/**
 * A NAT decision for the walker/conntrack. Addresses and ports from ranges are already chosen
 * (deterministically from the Rng); absent ones stay as they are. MASQUERADE's address is chosen by
 * the walker from the outgoing interface; REDIRECT's from the incoming one (127.0.0.1 for OUTPUT).
 * A port range of more than one port is also passed whole (`portRange`): the walker hands it to
 * conntrack, whose port search runs over it as nf_nat_l4proto_unique_tuple does (`port` is the
 * rule's own pick, for display).
 */
export type NatRequest =
  | {
      readonly kind: 'DNAT' | 'SNAT';
      readonly ip?: IP;
      readonly port?: number;
      /** The rule's whole port range when it has more than one port (see below). */
      readonly portRange?: readonly [number, number];
      readonly random: boolean;
      readonly randomFully: boolean;
      readonly persistent: boolean;
    }
  | {
      readonly kind: 'MASQUERADE';
      readonly port?: number;
      readonly portRange?: readonly [number, number];
      readonly random: boolean;
      readonly randomFully: boolean;
    }
  | {
      readonly kind: 'REDIRECT';
      readonly port?: number;
      readonly portRange?: readonly [number, number];
      readonly random: boolean;
    };

export type TraceEntry =
  | { readonly kind: 'chain'; readonly table: TableName; readonly chain: string }
  | {
      readonly kind: 'rule';
      readonly table: TableName;
      readonly chain: string;
      /** 1-based, as iptables -L --line-numbers. */
      readonly num: number;
      readonly rule: Rule;
      /** The rule as iptables-save prints it. */
      readonly text: string;
    }
  | { readonly kind: 'return'; readonly table: TableName; readonly chain: string }
  | {
      readonly kind: 'policy';
      readonly table: TableName;
      readonly chain: string;
      readonly policy: 'ACCEPT' | 'DROP';
    };

export interface LogLine {
  readonly table: TableName;
  readonly chain: string;
  readonly num: number;
  readonly prefix: string;
  readonly level: number;
  /** The kernel-style line: PREFIX IN=.. OUT=.. SRC=.. DST=.. PROTO=.. SPT=.. DPT=.. */
  readonly text: string;
}

export interface EvalResult {
  readonly verdict: Verdict;
  /** True when the verdict is the built-in chain's policy (fall-through or RETURN from it). */
  readonly byPolicy: boolean;
  /** The packet after the table (mark changes). */
  readonly packet: Packet;
  readonly nat?: NatRequest;
  /** The new ct mark, when CONNMARK changed it. */
  readonly ctMark?: number;
  /** NOTRACK / CT --notrack was hit (raw table). */
  readonly notrack: boolean;
  /** Empty unless ctx.trace. */
  readonly trace: readonly TraceEntry[];
  readonly logs: readonly LogLine[];
}
