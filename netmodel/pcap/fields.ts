/**
 * A frame as a flat record of Wireshark display-filter field names (`ip.ttl`, `udp.dstport`,
 * `vxlan.vni`), so an emulated capture and a real one can be compared field by field, and each
 * value checked against what tshark prints for the same name. Fields of the frame a VXLAN header
 * carries are prefixed `inner.`; the IP header quoted by an ICMP error is `quote.ip.*` (Wireshark
 * decodes it as a second ip layer).
 */

import { hexBytes, ipv4Text } from './bytes.js';
import { encodeFrame } from './encode.js';
import type { Frame } from './frame.js';

export type FieldValue = number | string | boolean;
export type FrameFields = Record<string, FieldValue>;

export function frameFields(frame: Frame): FrameFields {
  const out: FrameFields = {};
  addFields(out, '', frame, encodeFrame(frame).length);
  return out;
}

function addFields(out: FrameFields, p: string, f: Frame, frameLen: number): void {
  out[`${p}frame.len`] = frameLen;
  out[`${p}eth.dst`] = f.eth.dst;
  out[`${p}eth.src`] = f.eth.src;
  out[`${p}eth.type`] = f.eth.type;
  if (f.arp) {
    out[`${p}arp.opcode`] = f.arp.op;
    out[`${p}arp.src.hw_mac`] = f.arp.senderMac;
    out[`${p}arp.src.proto_ipv4`] = f.arp.senderIp;
    out[`${p}arp.dst.hw_mac`] = f.arp.targetMac;
    out[`${p}arp.dst.proto_ipv4`] = f.arp.targetIp;
  }
  let l4Len = 0;
  const trailer = f.trailer ? f.trailer.length / 2 : 0;
  if (f.ipv4) {
    const ihl = 20 + (f.ipv4.options ? f.ipv4.options.length / 2 : 0);
    const total = frameLen - 14 - trailer;
    out[`${p}ip.version`] = 4;
    out[`${p}ip.hdr_len`] = ihl;
    out[`${p}ip.dsfield.dscp`] = f.ipv4.dscp;
    out[`${p}ip.dsfield.ecn`] = f.ipv4.ecn;
    out[`${p}ip.len`] = total;
    out[`${p}ip.id`] = f.ipv4.id;
    out[`${p}ip.flags.df`] = f.ipv4.df;
    out[`${p}ip.flags.mf`] = f.ipv4.mf;
    out[`${p}ip.frag_offset`] = f.ipv4.fragOffset / 8; // Wireshark counts 8-byte units
    out[`${p}ip.ttl`] = f.ipv4.ttl;
    out[`${p}ip.proto`] = f.ipv4.protocol;
    out[`${p}ip.src`] = f.ipv4.src;
    out[`${p}ip.dst`] = f.ipv4.dst;
    l4Len = total - ihl;
  }
  if (f.ipv6) {
    l4Len = frameLen - 14 - trailer - 40;
    out[`${p}ipv6.tclass`] = f.ipv6.trafficClass;
    out[`${p}ipv6.flow`] = f.ipv6.flowLabel;
    out[`${p}ipv6.plen`] = l4Len;
    out[`${p}ipv6.nxt`] = f.ipv6.nextHeader;
    out[`${p}ipv6.hlim`] = f.ipv6.hopLimit;
    out[`${p}ipv6.src`] = f.ipv6.src;
    out[`${p}ipv6.dst`] = f.ipv6.dst;
  }
  const payloadLen = f.payload ? f.payload.length / 2 : 0;
  if (f.tcp) {
    const t = f.tcp;
    out[`${p}tcp.srcport`] = t.sport;
    out[`${p}tcp.dstport`] = t.dport;
    out[`${p}tcp.seq_raw`] = t.seq;
    out[`${p}tcp.ack_raw`] = t.ack;
    out[`${p}tcp.hdr_len`] = l4Len - payloadLen;
    const fl = t.flags;
    out[`${p}tcp.flags`] =
      (fl.cwr ? 0x80 : 0) |
      (fl.ece ? 0x40 : 0) |
      (fl.urg ? 0x20 : 0) |
      (fl.ack ? 0x10 : 0) |
      (fl.psh ? 0x08 : 0) |
      (fl.rst ? 0x04 : 0) |
      (fl.syn ? 0x02 : 0) |
      (fl.fin ? 0x01 : 0);
    out[`${p}tcp.window_size_value`] = t.window;
    out[`${p}tcp.len`] = payloadLen;
    for (const o of t.options) {
      if (o.kind === 'mss') out[`${p}tcp.options.mss_val`] = o.mss;
      if (o.kind === 'wscale') out[`${p}tcp.options.wscale.shift`] = o.shift;
      if (o.kind === 'sackPermitted') out[`${p}tcp.options.sack_perm`] = true;
      if (o.kind === 'timestamp') {
        out[`${p}tcp.options.timestamp.tsval`] = o.tsval;
        out[`${p}tcp.options.timestamp.tsecr`] = o.tsecr;
      }
    }
  }
  if (f.udp) {
    out[`${p}udp.srcport`] = f.udp.sport;
    out[`${p}udp.dstport`] = f.udp.dport;
    out[`${p}udp.length`] = l4Len;
    out[`${p}udp.checksum_zero`] = f.udp.zeroChecksum === true;
  }
  if (f.sctp) {
    out[`${p}sctp.srcport`] = f.sctp.sport;
    out[`${p}sctp.dstport`] = f.sctp.dport;
    out[`${p}sctp.verification_tag`] = f.sctp.vtag;
    out[`${p}sctp.chunk_type`] = f.sctp.chunks.map((c) => c.type).join(',');
  }
  const icmp = f.icmp ?? f.icmpv6;
  if (icmp) {
    const q = f.icmp ? 'icmp' : 'icmpv6';
    out[`${p}${q}.type`] = icmp.type;
    out[`${p}${q}.code`] = icmp.code;
    const v6 = q === 'icmpv6';
    if (icmp.id !== undefined) out[`${p}${v6 ? 'icmpv6.echo.identifier' : 'icmp.ident'}`] = icmp.id;
    if (icmp.seq !== undefined) out[`${p}${v6 ? 'icmpv6.echo.sequence_number' : 'icmp.seq'}`] = icmp.seq;
    if (icmp.mtu !== undefined) out[`${p}${q}.mtu`] = icmp.mtu;
    if (f.icmp && (icmp.type === 3 || icmp.type === 11 || icmp.type === 12) && f.payload)
      addQuote(out, `${p}quote.`, hexBytes(f.payload));
  }
  if (f.vxlan) out[`${p}vxlan.vni`] = f.vxlan.vni;
  if (f.inner) addFields(out, `${p}inner.`, f.inner, encodeFrame(f.inner).length);
  else if (f.payload && !f.arp) out[`${p}data.len`] = payloadLen;
}

/** The IPv4 header an ICMP error quotes (RFC 792: the header and at least 8 bytes of data). */
function addQuote(out: FrameFields, p: string, q: Uint8Array): void {
  if (q.length < 20 || q[0]! >> 4 !== 4) return;
  out[`${p}ip.len`] = (q[2]! << 8) | q[3]!;
  out[`${p}ip.id`] = (q[4]! << 8) | q[5]!;
  out[`${p}ip.flags.df`] = (q[6]! & 0x40) !== 0;
  out[`${p}ip.ttl`] = q[8]!;
  out[`${p}ip.proto`] = q[9]!;
  out[`${p}ip.src`] = ipv4Text(q.subarray(12, 16));
  out[`${p}ip.dst`] = ipv4Text(q.subarray(16, 20));
  out[`${p}icmp.quoted_len`] = q.length;
}

/**
 * Fields whose values the kernel or the sending program chooses at random or from a clock, so a real
 * capture and an emulated one cannot agree on them: the IP id, TCP sequence numbers and timestamps,
 * the ICMP echo identifier (ping's socket), the outer UDP source port of a VXLAN packet (a hash of the
 * inner flow keyed by a per-boot random seed, see vxlan.ts). Names as frameFields gives them, without
 * the `inner.`/`quote.` prefix.
 */
export const RANDOMISED_FIELDS: ReadonlySet<string> = new Set([
  'ip.id',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.options.timestamp.tsval',
  'tcp.options.timestamp.tsecr',
  'icmp.ident',
  'icmpv6.echo.identifier',
]);

/** frameFields without the randomised ones (and without the VXLAN outer source port). */
export function comparableFields(frame: Frame): FrameFields {
  const all = frameFields(frame);
  const out: FrameFields = {};
  for (const [k, v] of Object.entries(all)) {
    const base = k.replace(/^((inner|quote)\.)+/, '');
    if (RANDOMISED_FIELDS.has(base)) continue;
    if (k === 'udp.srcport' && frame.vxlan) continue;
    out[k] = v;
  }
  return out;
}
