/**
 * Bytes -> frame descriptions, the inverse of encode.ts: `decodeFrame(encodeFrame(f))` equals `f` for
 * every description the encoder accepts (TCP options without an explicit EOL, UDP to a VXLAN port
 * carrying VXLAN). Checksums and length fields are read past, not trusted: `checkFrame` says
 * whether they are right.
 */
import { ByteReader, frameError, hexText, ipv4Text, ipv6Text, macText } from './bytes.js';
import { encodeFrame, icmpCarriesMtu } from './encode.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  type Frame,
  type IcmpHeader,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_SCTP,
  PROTO_TCP,
  PROTO_UDP,
  type SctpChunk,
  type TcpFlagSet,
  type TcpOption,
  VXLAN_PORT_IANA,
  VXLAN_PORT_LINUX,
} from './frame.js';

export interface DecodeOptions {
  /** UDP destination ports whose payload is VXLAN; default 8472 (Linux) and 4789 (IANA). */
  readonly vxlanPorts?: readonly number[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What the decoder gives for one captured frame: the same description the encoder takes. */
export type DecodedFrame = Frame;

export function decodeFrame(data: Uint8Array, opts: DecodeOptions = {}): Frame {
  const ports = opts.vxlanPorts ?? [VXLAN_PORT_LINUX, VXLAN_PORT_IANA];
  return decodeEthernet(new ByteReader(data), ports);
}

function decodeEthernet(r: ByteReader, ports: readonly number[]): Frame {
  const dst = macText(r.take(6, 'ethernet destination'));
  const src = macText(r.take(6, 'ethernet source'));
  const type = r.u16('ethertype');
  const f: Mutable<Frame> = { eth: { dst, src, type } };
  if (type === ETHERTYPE_ARP) {
    const htype = r.u16('arp hardware type');
    const ptype = r.u16('arp protocol type');
    const hlen = r.u8('arp hardware size');
    const plen = r.u8('arp protocol size');
    if (htype !== 1 || ptype !== 0x0800 || hlen !== 6 || plen !== 4)
      throw frameError(
        `unsupported ARP: hardware ${htype}/${hlen}, protocol 0x${ptype.toString(16)}/${plen}`,
      );
    f.arp = {
      op: r.u16('arp opcode'),
      senderMac: macText(r.take(6, 'arp sender MAC')),
      senderIp: ipv4Text(r.take(4, 'arp sender IP')),
      targetMac: macText(r.take(6, 'arp target MAC')),
      targetIp: ipv4Text(r.take(4, 'arp target IP')),
    };
  } else if (type === ETHERTYPE_IPV4) {
    decodeIpv4(r, f, ports);
  } else if (type === ETHERTYPE_IPV6) {
    decodeIpv6(r, f, ports);
  } else if (r.left > 0) {
    f.payload = hexText(r.rest());
    return f;
  }
  if (r.left > 0) f.trailer = hexText(r.rest());
  return f;
}

function decodeIpv4(r: ByteReader, f: Mutable<Frame>, ports: readonly number[]): void {
  const start = r.pos;
  const vihl = r.u8('ipv4 version/IHL');
  if (vihl >> 4 !== 4) throw frameError(`ethertype 0x0800 but IP version ${vihl >> 4}`);
  const ihl = (vihl & 15) * 4;
  if (ihl < 20) throw frameError(`IPv4 header length ${ihl} is below 20`);
  const tos = r.u8('ipv4 TOS');
  const total = r.u16('ipv4 total length');
  const id = r.u16('ipv4 id');
  const frag = r.u16('ipv4 flags/offset');
  const ttl = r.u8('ipv4 TTL');
  const protocol = r.u8('ipv4 protocol');
  r.u16('ipv4 checksum');
  const src = ipv4Text(r.take(4, 'ipv4 source'));
  const dst = ipv4Text(r.take(4, 'ipv4 destination'));
  const options = ihl > 20 ? hexText(r.take(ihl - 20, 'ipv4 options')) : undefined;
  if (total < ihl) throw frameError(`IPv4 total length ${total} is shorter than its header (${ihl})`);
  r.need(start + total - r.pos, 'the IPv4 datagram (total length)');
  const df = (frag & 0x4000) !== 0;
  const mf = (frag & 0x2000) !== 0;
  const fragOffset = (frag & 0x1fff) * 8;
  f.ipv4 = {
    dscp: tos >> 2,
    ecn: tos & 3,
    id,
    df,
    mf,
    fragOffset,
    ttl,
    protocol,
    src,
    dst,
    ...(options !== undefined ? { options } : {}),
  };
  const body = new ByteReader(r.data, r.pos, start + total);
  r.pos = start + total;
  if (mf || fragOffset > 0) {
    if (body.left > 0) f.payload = hexText(body.rest());
    return;
  }
  decodeL4(body, f, protocol, false, ports);
}

function decodeIpv6(r: ByteReader, f: Mutable<Frame>, ports: readonly number[]): void {
  const word = r.u32('ipv6 version/class/flow');
  if (word >>> 28 !== 6) throw frameError(`ethertype 0x86dd but IP version ${word >>> 28}`);
  const plen = r.u16('ipv6 payload length');
  const nextHeader = r.u8('ipv6 next header');
  const hopLimit = r.u8('ipv6 hop limit');
  const src = ipv6Text(r.take(16, 'ipv6 source'));
  const dst = ipv6Text(r.take(16, 'ipv6 destination'));
  f.ipv6 = { trafficClass: (word >>> 20) & 0xff, flowLabel: word & 0xfffff, nextHeader, hopLimit, src, dst };
  r.need(plen, 'the IPv6 payload (payload length)');
  const body = new ByteReader(r.data, r.pos, r.pos + plen);
  r.pos += plen;
  decodeL4(body, f, nextHeader, true, ports);
}

function decodeL4(
  r: ByteReader,
  f: Mutable<Frame>,
  protocol: number,
  six: boolean,
  ports: readonly number[],
): void {
  if (protocol === PROTO_TCP) {
    const sport = r.u16('tcp source port');
    const dport = r.u16('tcp destination port');
    const seq = r.u32('tcp seq');
    const ack = r.u32('tcp ack');
    const off = (r.u8('tcp data offset') >> 4) * 4;
    const fl = r.u8('tcp flags');
    const window = r.u16('tcp window');
    r.u16('tcp checksum');
    const urgent = r.u16('tcp urgent pointer');
    if (off < 20) throw frameError(`TCP data offset ${off} is below 20`);
    const options = decodeTcpOptions(new ByteReader(r.take(off - 20, 'tcp options')));
    const flags: Mutable<TcpFlagSet> = {};
    if (fl & 0x80) flags.cwr = true;
    if (fl & 0x40) flags.ece = true;
    if (fl & 0x20) flags.urg = true;
    if (fl & 0x10) flags.ack = true;
    if (fl & 0x08) flags.psh = true;
    if (fl & 0x04) flags.rst = true;
    if (fl & 0x02) flags.syn = true;
    if (fl & 0x01) flags.fin = true;
    f.tcp = { sport, dport, seq, ack, flags, window, urgent, options };
  } else if (protocol === PROTO_UDP) {
    const sport = r.u16('udp source port');
    const dport = r.u16('udp destination port');
    const length = r.u16('udp length');
    const csum = r.u16('udp checksum');
    f.udp = { sport, dport, ...(csum === 0 ? { zeroChecksum: true } : {}) };
    const data = new ByteReader(r.data, r.pos, Math.min(r.end, r.pos - 8 + Math.max(length, 8)));
    r.pos = r.end;
    if (ports.includes(dport) && data.left >= 8 + 14 && data.data[data.pos] === 0x08) {
      data.u32('vxlan flags');
      f.vxlan = { vni: data.u32('vxlan vni') >>> 8 };
      f.inner = decodeEthernet(data, ports);
      return;
    }
    if (data.left > 0) f.payload = hexText(data.rest());
    return;
  } else if (protocol === PROTO_SCTP) {
    const sport = r.u16('sctp source port');
    const dport = r.u16('sctp destination port');
    const vtag = r.u32('sctp verification tag');
    r.u32('sctp checksum');
    const chunks: SctpChunk[] = [];
    while (r.left >= 4) {
      const type = r.u8('sctp chunk type');
      const flags = r.u8('sctp chunk flags');
      const len = r.u16('sctp chunk length');
      if (len < 4) throw frameError(`SCTP chunk length ${len} is below 4`);
      chunks.push({ type, flags, value: hexText(r.take(len - 4, 'sctp chunk value')) });
      r.take(Math.min(r.left, (4 - (len % 4)) % 4), 'sctp chunk padding');
    }
    f.sctp = { sport, dport, vtag, chunks };
  } else if ((protocol === PROTO_ICMP && !six) || (protocol === PROTO_ICMPV6 && six)) {
    const type = r.u8('icmp type');
    const code = r.u8('icmp code');
    r.u16('icmp checksum');
    const h: Mutable<IcmpHeader> = { type, code };
    const echo = six ? type === 128 || type === 129 : type === 0 || type === 8 || type === 13 || type === 14;
    if (echo) {
      h.id = r.u16('icmp id');
      h.seq = r.u16('icmp seq');
    } else if (icmpCarriesMtu(type, code, six)) {
      if (!six) r.u16('icmp unused');
      h.mtu = six ? r.u32('icmpv6 mtu') : r.u16('icmp next-hop mtu');
    } else {
      const rest = r.u32('icmp rest of header');
      if (rest !== 0) h.rest = rest;
    }
    if (six) f.icmpv6 = h;
    else f.icmp = h;
  }
  if (r.left > 0) f.payload = hexText(r.rest());
}

function decodeTcpOptions(r: ByteReader): TcpOption[] {
  const out: TcpOption[] = [];
  while (r.left > 0) {
    const kind = r.u8('tcp option kind');
    if (kind === 0) break; // EOL: the rest is padding
    if (kind === 1) {
      out.push({ kind: 'nop' });
      continue;
    }
    const len = r.u8('tcp option length');
    if (len < 2) throw frameError(`TCP option ${kind} has length ${len}`);
    const v = new ByteReader(r.take(len - 2, `tcp option ${kind}`));
    if (kind === 2 && len === 4) out.push({ kind: 'mss', mss: v.u16('mss') });
    else if (kind === 3 && len === 3) out.push({ kind: 'wscale', shift: v.u8('wscale') });
    else if (kind === 4 && len === 2) out.push({ kind: 'sackPermitted' });
    else if (kind === 8 && len === 10)
      out.push({ kind: 'timestamp', tsval: v.u32('tsval'), tsecr: v.u32('tsecr') });
    else if (kind === 5 && (len - 2) % 8 === 0) {
      const blocks: [number, number][] = [];
      while (v.left > 0) blocks.push([v.u32('sack left'), v.u32('sack right')]);
      out.push({ kind: 'sack', blocks });
    } else out.push({ kind: 'raw', type: kind, data: hexText(v.rest()) });
  }
  return out;
}

/**
 * What is wrong with captured bytes as a sender without offload would have written them: wrong
 * checksums, wrong length fields. Re-encodes the decoded frame and names the differing offsets; an
 * empty list means every checksum and length is right. (A capture on the sending side of a veth with
 * checksum offload shows partial TCP/UDP checksums: not an error on the wire, but listed here.)
 */
export function checkFrame(data: Uint8Array, opts: DecodeOptions = {}): string[] {
  let f: Frame;
  try {
    f = decodeFrame(data, opts);
  } catch (e) {
    return [(e as Error).message];
  }
  const again = encodeFrame(f);
  const out: string[] = [];
  if (again.length !== data.length) out.push(`re-encoded length ${again.length} differs from ${data.length}`);
  for (let i = 0; i < Math.min(again.length, data.length) && out.length < 8; i++) {
    if (again[i] !== data[i])
      out.push(
        `offset ${i}: 0x${data[i]!.toString(16).padStart(2, '0')}, expected 0x${again[i]!.toString(16).padStart(2, '0')}`,
      );
  }
  return out;
}
