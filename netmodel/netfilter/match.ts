/**
 * Matches as typed data: the IP header part of a rule (`-s -d -i -o -p`) and the extension matches
 * (`-m NAME ...`), one discriminated union. Evaluation switches on `kind`; text exists only in the
 * parser and printer.
 */
import type { IP, Prefix } from '../addr.js';

/** An inclusive port range; a single port has lo === hi. */
export interface PortRange {
  readonly lo: number;
  readonly hi: number;
}

export interface PortMatch extends PortRange {
  readonly neg: boolean;
}

export interface AddrMatch {
  readonly prefix: Prefix;
  readonly neg: boolean;
}

/** `-s` / `-d`. */
export interface HostMatch extends AddrMatch {
  readonly kind: 'src' | 'dst';
}

/** `-i` / `-o`. A name ending in `+` matches every interface with that prefix. */
export interface IfaceMatch {
  readonly kind: 'iif' | 'oif';
  readonly name: string;
  readonly neg: boolean;
}

/** `-p`: IP protocol number (6 tcp, 17 udp, 132 sctp, 1 icmp, 58 ipv6-icmp). `-p all` is no match. */
export interface ProtoMatch {
  readonly kind: 'proto';
  readonly proto: number;
  readonly neg: boolean;
}

/** TCP flag bits as the kernel numbers them. */
export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20 } as const;

/** `-m tcp` (also loaded implicitly by `-p tcp --dport ...`). */
export interface TcpMatch {
  readonly kind: 'tcp';
  readonly sport?: PortMatch;
  readonly dport?: PortMatch;
  /** `--tcp-flags MASK COMP` (and `--syn` = FIN,SYN,RST,ACK SYN): (flags & mask) === comp. */
  readonly flags?: { readonly mask: number; readonly comp: number; readonly neg: boolean };
}

/** `-m udp` / `-m sctp` port matches. */
export interface PortsMatch {
  readonly kind: 'udp' | 'sctp';
  readonly sport?: PortMatch;
  readonly dport?: PortMatch;
}

/** `-m icmp --icmp-type T[/C]` / `-m icmp6 --icmpv6-type`. type 255 with codes 0..255 is `any`. */
export interface IcmpMatch {
  readonly kind: 'icmp' | 'icmp6';
  readonly type: number;
  readonly codeLo: number;
  readonly codeHi: number;
  readonly neg: boolean;
}

export interface CommentMatch {
  readonly kind: 'comment';
  readonly text: string;
}

/** `-m mark` / `-m connmark`: (mark & mask) === value. */
export interface MarkMatch {
  readonly kind: 'mark' | 'connmark';
  readonly value: number;
  readonly mask: number;
  readonly neg: boolean;
}

export interface MultiportMatch {
  readonly kind: 'multiport';
  /** `--sports`, `--dports`, `--ports` (either). */
  readonly dir: 'src' | 'dst' | 'any';
  readonly ports: readonly PortRange[];
  readonly neg: boolean;
}

/** Conntrack state bits (our own numbering; iptables prints them by name). */
export const CtStateBit = {
  INVALID: 0x01,
  NEW: 0x02,
  RELATED: 0x04,
  ESTABLISHED: 0x08,
  UNTRACKED: 0x10,
  SNAT: 0x20,
  DNAT: 0x40,
} as const;
export type CtStateName = keyof typeof CtStateBit;
/** The order iptables prints states in. */
export const CT_STATE_ORDER: readonly CtStateName[] = [
  'INVALID',
  'NEW',
  'RELATED',
  'ESTABLISHED',
  'UNTRACKED',
  'SNAT',
  'DNAT',
];

/** Conntrack status bits, as the kernel numbers them (IPS_*). */
export const CtStatus = {
  EXPECTED: 0x01,
  SEEN_REPLY: 0x02,
  ASSURED: 0x04,
  CONFIRMED: 0x08,
  SRC_NAT: 0x10,
  DST_NAT: 0x20,
} as const;
export const CT_STATUS_ORDER = ['EXPECTED', 'SEEN_REPLY', 'ASSURED', 'CONFIRMED'] as const;

export interface ConntrackMatch {
  readonly kind: 'conntrack';
  readonly state?: { readonly bits: number; readonly neg: boolean };
  readonly proto?: { readonly proto: number; readonly neg: boolean };
  readonly origSrc?: AddrMatch;
  readonly origDst?: AddrMatch;
  readonly replSrc?: AddrMatch;
  readonly replDst?: AddrMatch;
  readonly origSrcPort?: PortMatch;
  readonly origDstPort?: PortMatch;
  readonly replSrcPort?: PortMatch;
  readonly replDstPort?: PortMatch;
  /** CtStatus bits (EXPECTED..CONFIRMED); 0 prints as NONE. */
  readonly status?: { readonly bits: number; readonly neg: boolean };
  readonly dir?: 'ORIGINAL' | 'REPLY';
}

/** `-m state --state` (the SNAT/DNAT bits are not allowed here). */
export interface StateMatch {
  readonly kind: 'state';
  readonly bits: number;
  readonly neg: boolean;
}

/** Route types, as `addrtype` names them, in the kernel's RTN_* order (bit = 1 << RTN). */
export const ADDR_TYPES = [
  'UNSPEC',
  'UNICAST',
  'LOCAL',
  'BROADCAST',
  'ANYCAST',
  'MULTICAST',
  'BLACKHOLE',
  'UNREACHABLE',
  'PROHIBIT',
  'THROW',
  'NAT',
  'XRESOLVE',
] as const;
export type AddrType = (typeof ADDR_TYPES)[number];

export function addrTypeBit(t: AddrType): number {
  return 1 << ADDR_TYPES.indexOf(t);
}

export interface AddrtypeMatch {
  readonly kind: 'addrtype';
  /** Bitmasks of addrTypeBit(). */
  readonly src?: { readonly types: number; readonly neg: boolean };
  readonly dst?: { readonly types: number; readonly neg: boolean };
  readonly limitIfaceIn: boolean;
  readonly limitIfaceOut: boolean;
}

/**
 * `-m statistic`. Random mode keeps the kernel's 31-bit fixed point (`probability31`, match when
 * `(rng.uint32() & 0x7FFFFFFF) < probability31`). Nth mode keeps `--every n --packet p` as written.
 */
export type StatisticMatch =
  | {
      readonly kind: 'statistic';
      readonly mode: 'random';
      readonly probability31: number;
      readonly neg: boolean;
    }
  | {
      readonly kind: 'statistic';
      readonly mode: 'nth';
      readonly every: number;
      readonly packet: number;
      readonly neg: boolean;
    };

export type RecentCommand = 'set' | 'rcheck' | 'update' | 'remove';

export interface RecentMatch {
  readonly kind: 'recent';
  readonly name: string;
  readonly command: RecentCommand;
  /** 0 = not given. */
  readonly seconds: number;
  readonly reap: boolean;
  /** 0 = not given. */
  readonly hitcount: number;
  readonly rttl: boolean;
  readonly side: 'src' | 'dst';
  /** The address mask (`--mask`), all ones by default. */
  readonly mask: IP;
  readonly neg: boolean;
}

export interface PhysdevMatch {
  readonly kind: 'physdev';
  readonly in?: { readonly name: string; readonly neg: boolean };
  readonly out?: { readonly name: string; readonly neg: boolean };
  /** undefined = not tested; otherwise { neg }. */
  readonly isIn?: { readonly neg: boolean };
  readonly isOut?: { readonly neg: boolean };
  readonly isBridged?: { readonly neg: boolean };
}

export interface SetMatch {
  readonly kind: 'set';
  readonly name: string;
  /** One direction per dimension of the set, e.g. ['dst', 'dst'] for `dst,dst`. */
  readonly dirs: readonly ('src' | 'dst')[];
  readonly neg: boolean;
}

/**
 * `-m ipvs` (xt_ipvs): properties of the IPVS connection a packet belongs to. Each option present is
 * tested; `ipvs` alone tests only whether IPVS handled the packet (skb->ipvs_property).
 */
export interface IpvsMatch {
  readonly kind: 'ipvs';
  readonly ipvs?: { readonly neg: boolean };
  readonly vproto?: { readonly proto: number; readonly neg: boolean };
  readonly vaddr?: { readonly prefix: Prefix; readonly neg: boolean };
  readonly vport?: { readonly port: number; readonly neg: boolean };
  /** ORIGINAL, or REPLY (stored as an inverted direction, as libxt_ipvs does). */
  readonly vdir?: 'ORIGINAL' | 'REPLY';
  readonly vmethod?: { readonly method: 'GATE' | 'IPIP' | 'MASQ'; readonly neg: boolean };
  readonly vportctl?: { readonly port: number; readonly neg: boolean };
}

export interface NfacctMatch {
  readonly kind: 'nfacct';
  readonly name: string;
}

export type Match =
  | IpvsMatch
  | HostMatch
  | IfaceMatch
  | ProtoMatch
  | TcpMatch
  | PortsMatch
  | IcmpMatch
  | CommentMatch
  | MarkMatch
  | MultiportMatch
  | ConntrackMatch
  | StateMatch
  | AddrtypeMatch
  | StatisticMatch
  | RecentMatch
  | PhysdevMatch
  | SetMatch
  | NfacctMatch;

export type MatchKind = Match['kind'];

/** The IP-header part of a rule, which iptables-save prints first in this order. */
export const HEADER_ORDER = ['src', 'dst', 'iif', 'oif', 'proto'] as const;

export function isHeaderMatch(m: Match): m is HostMatch | IfaceMatch | ProtoMatch {
  return m.kind === 'src' || m.kind === 'dst' || m.kind === 'iif' || m.kind === 'oif' || m.kind === 'proto';
}

export const IPPROTO = { ALL: 0, ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;
