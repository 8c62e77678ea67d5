/**
 * The walker's Packet (addresses, ports, flags, L3 length) as the Frame a capture shows on one hop:
 * the hop gives the MACs and TTL, the packet gives the rest, and the L4 headers are the ones Linux
 * writes (a SYN carries MSS, SACK_PERM, timestamps, NOP, window scale in tcp_options_write's order;
 * later segments NOP NOP timestamps; an ICMP echo carries ping's data). The payload is sized so the
 * IP datagram is `packet.length` bytes (or just the headers when the packet is shorter).
 */
import type { Packet } from '../packet.js';
import { frameError, hexText } from './bytes.js';
import { pingPayload } from './echo.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  type Frame,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_SCTP,
  PROTO_TCP,
  PROTO_UDP,
  type TcpOption,
} from './frame.js';

export interface HopL2 {
  readonly srcMac: string;
  readonly dstMac: string;
  /** The TTL (hop limit) on this hop: 64 leaving the sender, one less after each routing hop. */
  readonly ttl: number;
  /** DF; default true for TCP/UDP/echo requests (Linux PMTU discovery), false for echo replies. */
  readonly df?: boolean;
  readonly ipId?: number;
  readonly dscp?: number;
}

export interface SegmentDetail {
  /** The MSS a SYN advertises: the route/device MTU - 40 (1410 on a 1450 overlay). Default 1460. */
  readonly mss?: number;
  readonly seq?: number;
  readonly ack?: number;
  /**
   * Default: for a SYN the largest multiple of the MSS up to 65535 (64860 for MSS 1410), for a
   * SYN-ACK the same for MSS - 12 (timestamps; 64308), else 64240 (measured, docs/podnet-measured.md).
   */
  readonly window?: number;
  /** Default 10: what Linux advertises with tcp_rmem's max at 32 MiB (the 6.x default); 7 with 6 MiB. */
  readonly wscale?: number;
  readonly tsval?: number;
  readonly tsecr?: number;
  /** ICMP echo sequence number; default 1. */
  readonly icmpSeq?: number;
  /** The time ping writes into its data. */
  readonly sentAtMicros?: bigint;
}

const PROTO: Record<Packet['proto'], number> = {
  tcp: PROTO_TCP,
  udp: PROTO_UDP,
  sctp: PROTO_SCTP,
  icmp: PROTO_ICMP,
  icmpv6: PROTO_ICMPV6,
};

function zeros(n: number): string {
  return n > 0 ? hexText(new Uint8Array(n)) : '';
}

export function frameFromPacket(p: Packet, hop: HopL2, d: SegmentDetail = {}): Frame {
  const six = p.family === 6;
  const ipHeader = six ? 40 : 20;
  const proto = PROTO[p.proto];
  const body = Math.max(0, p.length - ipHeader);
  const l4: Record<string, unknown> = {};
  let payload = '';
  let echoReply = false;
  switch (p.proto) {
    case 'tcp': {
      const f = p.tcp ?? { syn: true, ack: false, fin: false, rst: false };
      const syn = f.syn;
      const mss = d.mss ?? 1460;
      const synWindow = (m: number) => Math.floor(65535 / m) * m;
      const ts: TcpOption = { kind: 'timestamp', tsval: d.tsval ?? 1, tsecr: d.tsecr ?? 0 };
      const options: TcpOption[] = f.rst
        ? []
        : syn
          ? [
              { kind: 'mss', mss: d.mss ?? 1460 },
              { kind: 'sackPermitted' },
              ts,
              { kind: 'nop' },
              { kind: 'wscale', shift: d.wscale ?? 10 },
            ]
          : [{ kind: 'nop' }, { kind: 'nop' }, ts];
      const hdr = 20 + (f.rst ? 0 : syn ? 20 : 12);
      l4.tcp = {
        sport: p.sport,
        dport: p.dport,
        seq: d.seq ?? 0,
        ack: f.ack ? (d.ack ?? 0) : 0,
        flags: {
          ...(f.ack ? { ack: true } : {}),
          ...(f.rst ? { rst: true } : {}),
          ...(f.syn ? { syn: true } : {}),
          ...(f.fin ? { fin: true } : {}),
        },
        window: f.rst ? 0 : (d.window ?? (syn ? synWindow(f.ack ? mss - 12 : mss) : 64240)),
        urgent: 0,
        options,
      };
      payload = zeros(body - hdr);
      break;
    }
    case 'udp':
      l4.udp = { sport: p.sport, dport: p.dport };
      payload = zeros(body - 8);
      break;
    case 'sctp': {
      // One chunk filling the packet: INIT (type 1) with a zeroed value.
      const value = Math.max(16, body - 12 - 4);
      l4.sctp = {
        sport: p.sport,
        dport: p.dport,
        vtag: 0,
        chunks: [{ type: 1, flags: 0, value: zeros(value - (value % 4)) }],
      };
      break;
    }
    case 'icmp':
    case 'icmpv6': {
      const icmp = p.icmp ?? { type: six ? 128 : 8, code: 0, id: 0 };
      const echo = six ? icmp.type === 128 || icmp.type === 129 : icmp.type === 8 || icmp.type === 0;
      echoReply = six ? icmp.type === 129 : icmp.type === 0;
      l4[p.proto] = echo
        ? { type: icmp.type, code: icmp.code, id: icmp.id, seq: d.icmpSeq ?? 1 }
        : { type: icmp.type, code: icmp.code };
      payload = echo ? pingPayload(Math.max(0, body - 8), d.sentAtMicros ?? 0n) : zeros(body - 8);
      break;
    }
    default:
      throw frameError(`no frame for protocol ${String(p.proto)}`);
  }
  const df = hop.df ?? !echoReply;
  const frame = {
    eth: { dst: hop.dstMac, src: hop.srcMac, type: six ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4 },
    ...(six
      ? {
          ipv6: {
            trafficClass: (hop.dscp ?? 0) << 2,
            flowLabel: 0,
            nextHeader: proto,
            hopLimit: hop.ttl,
            src: p.src.text,
            dst: p.dst.text,
          },
        }
      : {
          ipv4: {
            dscp: hop.dscp ?? 0,
            ecn: 0,
            id: hop.ipId ?? 0,
            df,
            mf: false,
            fragOffset: 0,
            ttl: hop.ttl,
            protocol: proto,
            src: p.src.text,
            dst: p.dst.text,
          },
        }),
    ...l4,
    ...(payload ? { payload } : {}),
  };
  return frame as Frame;
}
