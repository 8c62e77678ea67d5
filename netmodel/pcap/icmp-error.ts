/**
 * ICMP errors and IPv4 fragments as Linux builds them.
 *
 * icmp_send (net/ipv4/icmp.c) quotes as much of the offending datagram as fits in 576 bytes: the
 * quote is at most 576 - 20 (IP) - 8 (ICMP) = 548 bytes, i.e. the original IP header and up to 528
 * bytes of its payload, more than RFC 792's minimum of header + 8 bytes. Fragmentation needed is
 * type 3 code 4 with the next-hop MTU in the low 16 bits of the second word (RFC 1191).
 *
 * ip_do_fragment (net/ipv4/ip_output.c) cuts a datagram into pieces whose payload is the largest
 * multiple of 8 that fits the MTU after the header, every piece but the last with MF, sent in order.
 */
import { frameError, hexBytes, hexText } from './bytes.js';
import { encodeIpv4 } from './encode.js';
import type { Frame, Ipv4Header } from './frame.js';
import { ETHERTYPE_IPV4, PROTO_ICMP } from './frame.js';

/** The most of the offending datagram Linux's icmp_send quotes (576 - 20 - 8). */
export const ICMP_QUOTE_MAX = 548;

/** The bytes an ICMP error quotes from a frame's IPv4 datagram (Linux's length, or RFC 792's with `minimal`). */
export function icmpQuote(original: Frame, opts: { minimal?: boolean } = {}): Uint8Array {
  const ip = encodeIpv4(original);
  const ihl = (ip[0]! & 15) * 4;
  return ip.subarray(0, Math.min(ip.length, opts.minimal ? ihl + 8 : ICMP_QUOTE_MAX));
}

export interface IcmpErrorInit {
  /** The frame the router or host refused, as it arrived. */
  readonly original: Frame;
  /** The MACs of the frame carrying the error (the sender's egress device and the next hop). */
  readonly srcMac: string;
  readonly dstMac: string;
  /** The address the error comes from (for a forwarded packet Linux uses the ingress device's primary address, see icmp_send). */
  readonly from: string;
  readonly type: number;
  readonly code: number;
  /** Next-hop MTU for type 3 code 4. */
  readonly mtu?: number;
  readonly ttl?: number;
  readonly id?: number;
  /** Linux sends ICMP errors with TOS 0xc0 (IPTOS_PREC_INTERNETCONTROL): DSCP 48. */
  readonly dscp?: number;
  readonly minimalQuote?: boolean;
}

export function icmpError(e: IcmpErrorInit): Frame {
  const orig = e.original.ipv4;
  if (!orig) throw frameError('an ICMP error needs the original IPv4 frame');
  const ip: Ipv4Header = {
    dscp: e.dscp ?? 48,
    ecn: 0,
    id: e.id ?? 0,
    df: false,
    mf: false,
    fragOffset: 0,
    ttl: e.ttl ?? 64,
    protocol: PROTO_ICMP,
    src: e.from,
    dst: orig.src,
  };
  const icmp =
    e.type === 3 && e.code === 4 ? { type: 3, code: 4, mtu: e.mtu ?? 0 } : { type: e.type, code: e.code };
  return {
    eth: { dst: e.dstMac, src: e.srcMac, type: ETHERTYPE_IPV4 },
    ipv4: ip,
    icmp,
    payload: hexText(icmpQuote(e.original, { minimal: e.minimalQuote === true })),
  };
}

/** Fragmentation needed (type 3 code 4) with the next-hop MTU. */
export function icmpFragNeeded(e: Omit<IcmpErrorInit, 'type' | 'code'> & { readonly mtu: number }): Frame {
  return icmpError({ ...e, type: 3, code: 4 });
}

/**
 * The fragments of an IPv4 frame for an egress MTU, in the order Linux sends them; the frame itself
 * when it fits. Refuses DF frames that do not fit (the kernel drops those and answers frag-needed).
 */
export function fragmentIpv4(f: Frame, mtu: number): Frame[] {
  const ip = f.ipv4;
  if (!ip) throw frameError('fragmentIpv4: the frame has no ipv4 header');
  const bytes = encodeIpv4(f);
  if (bytes.length <= mtu) return [f];
  if (ip.df) throw frameError(`a ${bytes.length}-byte datagram with DF set does not fit MTU ${mtu}`);
  const ihl = (bytes[0]! & 15) * 4;
  const payload = bytes.subarray(ihl);
  const step = (mtu - ihl) & ~7;
  if (step <= 0) throw frameError(`MTU ${mtu} leaves no room for fragment data`);
  const base = ip.fragOffset;
  const out: Frame[] = [];
  for (let off = 0; off < payload.length; off += step) {
    const piece = payload.subarray(off, Math.min(payload.length, off + step));
    const last = off + step >= payload.length;
    out.push({
      eth: f.eth,
      ipv4: { ...ip, mf: !last || ip.mf, fragOffset: base + off },
      payload: hexText(piece),
    });
  }
  return out;
}

/** The original frame's datagram reassembled from fragments (for tests and the decoder's users). */
export function reassembleIpv4(fragments: readonly Frame[]): Uint8Array {
  const parts = [...fragments].sort((a, b) => (a.ipv4?.fragOffset ?? 0) - (b.ipv4?.fragOffset ?? 0));
  const chunks = parts.map((p) => hexBytes(p.payload ?? ''));
  const len = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(len);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
