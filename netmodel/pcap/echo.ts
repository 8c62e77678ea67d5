/**
 * ICMP echo as iputils ping sends it: the data is the byte pattern i & 0xff at offset i, and when it
 * has room (-s 16 or more, the default 56 does) its first 16 bytes are the send time as a native
 * (little-endian on x86 and arm64) struct timeval: 64-bit seconds, 64-bit microseconds. Measured with
 * `ping -c1 -s 56` under dumpcap (docs/podnet-measured.md).
 */
import { hexText } from './bytes.js';
import { ETHERTYPE_IPV4, type Frame, PROTO_ICMP } from './frame.js';

/** ping's default data size (-s). */
export const PING_DEFAULT_SIZE = 56;

export function pingPayload(size: number, sentAtMicros: bigint): string {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = i & 0xff;
  if (size >= 16) {
    const v = new DataView(b.buffer);
    v.setBigUint64(0, sentAtMicros / 1_000_000n, true);
    v.setBigUint64(8, sentAtMicros % 1_000_000n, true);
  }
  return hexText(b);
}

export interface EchoInit {
  readonly srcMac: string;
  readonly dstMac: string;
  readonly src: string;
  readonly dst: string;
  /** ping's identifier (its pid for a raw socket, the socket's port for an unprivileged one). */
  readonly id: number;
  readonly seq?: number;
  /** Data bytes (ping -s); default 56. */
  readonly size?: number;
  /** DF: set by default (ping's default PMTU discovery, -M want/do); clear with -M dont. */
  readonly df?: boolean;
  readonly ttl?: number;
  readonly ipId?: number;
  readonly sentAtMicros?: bigint;
}

export function icmpEchoRequest(e: EchoInit): Frame {
  return {
    eth: { dst: e.dstMac, src: e.srcMac, type: ETHERTYPE_IPV4 },
    ipv4: {
      dscp: 0,
      ecn: 0,
      id: e.ipId ?? 0,
      df: e.df ?? true,
      mf: false,
      fragOffset: 0,
      ttl: e.ttl ?? 64,
      protocol: PROTO_ICMP,
      src: e.src,
      dst: e.dst,
    },
    icmp: { type: 8, code: 0, id: e.id, seq: e.seq ?? 1 },
    payload: pingPayload(e.size ?? PING_DEFAULT_SIZE, e.sentAtMicros ?? 0n),
  };
}

/**
 * The reply a Linux host sends (icmp_echo): addresses and MACs swapped, the same id, seq and data,
 * TTL 64, DF clear (measured: echo replies leave with DF clear).
 */
export function icmpEchoReply(
  request: Frame,
  opts: { readonly ttl?: number; readonly ipId?: number } = {},
): Frame {
  const ip = request.ipv4!;
  return {
    eth: { dst: request.eth.src, src: request.eth.dst, type: ETHERTYPE_IPV4 },
    ipv4: { ...ip, id: opts.ipId ?? 0, df: false, ttl: opts.ttl ?? 64, src: ip.dst, dst: ip.src },
    icmp: { ...request.icmp!, type: 0 },
    ...(request.payload !== undefined ? { payload: request.payload } : {}),
  };
}
