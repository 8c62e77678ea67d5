/**
 * Frames as typed, JSON-friendly descriptions: one optional field per layer, as Wireshark shows a
 * packet. Addresses are text (`02:42:0a:f4:01:02`, `10.244.1.2`, `fd00::1`), byte strings are lower
 * case hex. Lengths, header lengths and checksums are not part of the description: the encoder
 * computes them (the decoder reports what it read through `frameFields` and `checkFrame`).
 *
 * Layering rules (the encoder follows them, the decoder produces them):
 * - `eth.type` is written as given; 0x0806 carries `arp`, 0x0800 `ipv4`, 0x86dd `ipv6`.
 * - An IPv4 fragment (MF set or a non-zero offset) carries its IP payload as raw `payload`: only the
 *   reassembled datagram has an L4 header to parse. Otherwise `ipv4.protocol` 6/17/132/1 carries
 *   `tcp`/`udp`/`sctp`/`icmp`; IPv6 `nextHeader` 6/17/132/58 carries `tcp`/`udp`/`sctp`/`icmpv6`.
 * - `udp` to a VXLAN port carries `vxlan` and the encapsulated `inner` frame.
 * - `payload` is whatever follows the last header (TCP/UDP data, ICMP data or the quoted packet of an
 *   ICMP error); `trailer` is Ethernet padding after the IP datagram (a frame shorter than 60 bytes
 *   that a NIC padded).
 */

export interface EthernetHeader {
  readonly dst: string;
  readonly src: string;
  /** The ethertype: 0x0800 IPv4, 0x0806 ARP, 0x86dd IPv6. */
  readonly type: number;
}

/** ARP for IPv4 over Ethernet (RFC 826): hardware type 1, protocol 0x0800, sizes 6 and 4. */
export interface ArpPacket {
  /** 1 request, 2 reply. */
  readonly op: number;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

export interface Ipv4Header {
  /** Differentiated services code point (the top 6 bits of the old TOS byte). */
  readonly dscp: number;
  readonly ecn: number;
  readonly id: number;
  /** Don't Fragment. */
  readonly df: boolean;
  /** More Fragments. */
  readonly mf: boolean;
  /** Fragment offset in bytes (a multiple of 8), as tcpdump prints it (Wireshark's ip.frag_offset is this / 8). */
  readonly fragOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  /** IP options as hex, a multiple of 4 bytes (IHL follows from it). */
  readonly options?: string;
}

export interface Ipv6Header {
  readonly trafficClass: number;
  readonly flowLabel: number;
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: string;
  readonly dst: string;
}

export interface TcpFlagSet {
  readonly cwr?: boolean;
  readonly ece?: boolean;
  readonly urg?: boolean;
  readonly ack?: boolean;
  readonly psh?: boolean;
  readonly rst?: boolean;
  readonly syn?: boolean;
  readonly fin?: boolean;
}

/** TCP options as Linux writes them; `raw` for any other kind. */
export type TcpOption =
  | { readonly kind: 'eol' }
  | { readonly kind: 'nop' }
  | { readonly kind: 'mss'; readonly mss: number }
  | { readonly kind: 'wscale'; readonly shift: number }
  | { readonly kind: 'sackPermitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly (readonly [number, number])[] }
  | { readonly kind: 'timestamp'; readonly tsval: number; readonly tsecr: number }
  | { readonly kind: 'raw'; readonly type: number; readonly data: string };

export interface TcpHeader {
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  /** Only the flags that are set need be listed; the decoder lists exactly those set. */
  readonly flags: TcpFlagSet;
  readonly window: number;
  readonly urgent: number;
  /** In order; the encoder pads with EOL (zero bytes) to a multiple of 4, the decoder drops that padding. */
  readonly options: readonly TcpOption[];
}

export interface UdpHeader {
  readonly sport: number;
  readonly dport: number;
  /**
   * Send checksum 0 ("none", legal for UDP over IPv4 only), as a VXLAN device does when it was
   * created with `noudpcsum`. The decoder sets it exactly when the checksum field is 0.
   */
  readonly zeroChecksum?: boolean;
}

export interface SctpChunk {
  readonly type: number;
  readonly flags: number;
  /** The chunk value as hex (the length field and the padding to 4 bytes are computed). */
  readonly value: string;
}

export interface SctpPacket {
  readonly sport: number;
  readonly dport: number;
  readonly vtag: number;
  readonly chunks: readonly SctpChunk[];
}

/**
 * ICMP (RFC 792) and ICMPv6 (RFC 4443). The 4 bytes after the checksum are typed by message:
 * echo request/reply (8/0, ICMPv6 128/129) -> `id` and `seq`; destination unreachable code 4
 * (fragmentation needed) -> `mtu` (the next-hop MTU, RFC 1191); ICMPv6 packet too big (2) -> `mtu`;
 * anything else -> `rest` (omitted when 0).
 */
export interface IcmpHeader {
  readonly type: number;
  readonly code: number;
  readonly id?: number;
  readonly seq?: number;
  readonly mtu?: number;
  readonly rest?: number;
}

export interface VxlanHeader {
  /** The 24-bit VXLAN network identifier. Flags are always 0x08 (the I bit), reserved bytes 0. */
  readonly vni: number;
}

export interface Frame {
  readonly eth: EthernetHeader;
  readonly arp?: ArpPacket;
  readonly ipv4?: Ipv4Header;
  readonly ipv6?: Ipv6Header;
  readonly tcp?: TcpHeader;
  readonly udp?: UdpHeader;
  readonly sctp?: SctpPacket;
  readonly icmp?: IcmpHeader;
  readonly icmpv6?: IcmpHeader;
  readonly vxlan?: VxlanHeader;
  /** The Ethernet frame a VXLAN header encapsulates. */
  readonly inner?: Frame;
  /** Bytes after the last header, hex. */
  readonly payload?: string;
  /** Ethernet padding after the IP datagram, hex. */
  readonly trailer?: string;
}

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;
export const PROTO_SCTP = 132;
/** The Linux vxlan module's default destination port (drivers/net/vxlan: IANA_VXLAN_UDP_PORT is 4789). */
export const VXLAN_PORT_LINUX = 8472;
export const VXLAN_PORT_IANA = 4789;
