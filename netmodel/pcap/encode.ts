/**
 * Frame descriptions -> bytes, with every length and checksum computed as the sending kernel would
 * leave them on the wire (no offload: the values a receiver verifies).
 */
import { ByteWriter, frameError, hexBytes, ipv4Bytes, ipv6Bytes, macBytes } from './bytes.js';
import { crc32c, finishChecksum, internetChecksum, onesSum, pseudoHeaderSum } from './checksum.js';
import {
  type ArpPacket,
  type Frame,
  type IcmpHeader,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_SCTP,
  PROTO_TCP,
  PROTO_UDP,
  type SctpPacket,
  type TcpHeader,
  type TcpOption,
} from './frame.js';

function checkInt(v: number, bits: number, what: string): number {
  const max = 2 ** bits - 1;
  if (!Number.isInteger(v) || v < 0 || v > max) throw frameError(`${what} ${v} is out of range (0..${max})`);
  return v;
}

export function encodeFrame(f: Frame): Uint8Array {
  const w = new ByteWriter();
  w.bytes(macBytes(f.eth.dst))
    .bytes(macBytes(f.eth.src))
    .u16(checkInt(f.eth.type, 16, 'eth.type'));
  if (f.arp) writeArp(w, f.arp);
  else if (f.ipv4) w.bytes(encodeIpv4(f));
  else if (f.ipv6) w.bytes(encodeIpv6(f));
  else if (f.payload) w.bytes(hexBytes(f.payload));
  if (f.trailer) w.bytes(hexBytes(f.trailer, 'trailer'));
  return w.finish();
}

function writeArp(w: ByteWriter, a: ArpPacket): void {
  w.u16(1)
    .u16(0x0800)
    .u8(6)
    .u8(4)
    .u16(checkInt(a.op, 16, 'arp.op'));
  w.bytes(macBytes(a.senderMac)).bytes(ipv4Bytes(a.senderIp));
  w.bytes(macBytes(a.targetMac)).bytes(ipv4Bytes(a.targetIp));
}

/** The IPv4 datagram of a frame (header and payload), without the Ethernet header. */
export function encodeIpv4(f: Frame): Uint8Array {
  const ip = f.ipv4;
  if (!ip) throw frameError('encodeIpv4: the frame has no ipv4 header');
  const src = ipv4Bytes(ip.src);
  const dst = ipv4Bytes(ip.dst);
  const options = ip.options ? hexBytes(ip.options, 'ipv4.options') : new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40)
    throw frameError(`ipv4.options must be a multiple of 4 bytes, at most 40 (got ${options.length})`);
  if (ip.fragOffset % 8 !== 0 || ip.fragOffset > 0x1fff * 8)
    throw frameError(`ipv4.fragOffset ${ip.fragOffset} must be a multiple of 8 below 65536`);
  const fragment = ip.mf || ip.fragOffset > 0;
  let body: Uint8Array;
  if (fragment) {
    if (f.tcp || f.udp || f.sctp || f.icmp)
      throw frameError('an IPv4 fragment carries its payload as raw bytes: use `payload`, not an L4 header');
    body = f.payload ? hexBytes(f.payload) : new Uint8Array(0);
  } else {
    body = encodeL4(f, ip.protocol, src, dst);
  }
  const ihl = 5 + options.length / 4;
  const total = ihl * 4 + body.length;
  if (total > 0xffff) throw frameError(`the IPv4 datagram is ${total} bytes, more than 65535`);
  const w = new ByteWriter();
  w.u8(0x40 | ihl)
    .u8((checkInt(ip.dscp, 6, 'ipv4.dscp') << 2) | checkInt(ip.ecn, 2, 'ipv4.ecn'))
    .u16(total)
    .u16(checkInt(ip.id, 16, 'ipv4.id'))
    .u16((ip.df ? 0x4000 : 0) | (ip.mf ? 0x2000 : 0) | (ip.fragOffset / 8))
    .u8(checkInt(ip.ttl, 8, 'ipv4.ttl'))
    .u8(checkInt(ip.protocol, 8, 'ipv4.protocol'))
    .u16(0)
    .bytes(src)
    .bytes(dst)
    .bytes(options);
  w.patch16(10, internetChecksum(w.view()));
  w.bytes(body);
  return w.finish();
}

/** The IPv6 packet of a frame (fixed header and payload; no extension headers). */
export function encodeIpv6(f: Frame): Uint8Array {
  const ip = f.ipv6;
  if (!ip) throw frameError('encodeIpv6: the frame has no ipv6 header');
  const src = ipv6Bytes(ip.src);
  const dst = ipv6Bytes(ip.dst);
  const body = encodeL4(f, ip.nextHeader, src, dst);
  if (body.length > 0xffff) throw frameError(`the IPv6 payload is ${body.length} bytes, more than 65535`);
  const w = new ByteWriter();
  const tc = checkInt(ip.trafficClass, 8, 'ipv6.trafficClass');
  w.u32(((6 << 28) | (tc << 20) | checkInt(ip.flowLabel, 20, 'ipv6.flowLabel')) >>> 0)
    .u16(body.length)
    .u8(checkInt(ip.nextHeader, 8, 'ipv6.nextHeader'))
    .u8(checkInt(ip.hopLimit, 8, 'ipv6.hopLimit'))
    .bytes(src)
    .bytes(dst)
    .bytes(body);
  return w.finish();
}

function encodeL4(f: Frame, protocol: number, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const payload = f.payload ? hexBytes(f.payload) : new Uint8Array(0);
  const six = src.length === 16;
  if (f.tcp) {
    if (protocol !== PROTO_TCP) throw frameError(`a tcp header needs IP protocol 6, not ${protocol}`);
    return encodeTcp(f.tcp, payload, src, dst);
  }
  if (f.udp) {
    if (protocol !== PROTO_UDP) throw frameError(`a udp header needs IP protocol 17, not ${protocol}`);
    const w = new ByteWriter();
    w.u16(checkInt(f.udp.sport, 16, 'udp.sport'))
      .u16(checkInt(f.udp.dport, 16, 'udp.dport'))
      .u16(0)
      .u16(0);
    if (f.vxlan) {
      if (!f.inner) throw frameError('a vxlan header needs the `inner` frame it encapsulates');
      w.u32(0x08000000).u32((checkInt(f.vxlan.vni, 24, 'vxlan.vni') << 8) >>> 0);
      w.bytes(encodeFrame(f.inner));
    }
    w.bytes(payload);
    if (w.length > 0xffff) throw frameError(`the UDP datagram is ${w.length} bytes, more than 65535`);
    w.patch16(4, w.length);
    if (f.udp.zeroChecksum) {
      if (six) throw frameError('udp.zeroChecksum: a zero UDP checksum is not allowed over IPv6 (RFC 8200)');
    } else {
      const c = finishChecksum(onesSum(w.view(), pseudoHeaderSum(src, dst, PROTO_UDP, w.length)));
      w.patch16(6, c === 0 ? 0xffff : c);
    }
    return w.finish();
  }
  if (f.sctp) {
    if (protocol !== PROTO_SCTP) throw frameError(`an sctp packet needs IP protocol 132, not ${protocol}`);
    return encodeSctp(f.sctp, payload);
  }
  if (f.icmp) {
    if (protocol !== PROTO_ICMP || six)
      throw frameError('an icmp header needs IPv4 protocol 1 (use icmpv6 for IPv6)');
    const w = writeIcmp(f.icmp, payload, false);
    w.patch16(2, internetChecksum(w.view()));
    return w.finish();
  }
  if (f.icmpv6) {
    if (protocol !== PROTO_ICMPV6 || !six) throw frameError('an icmpv6 header needs IPv6 next header 58');
    const w = writeIcmp(f.icmpv6, payload, true);
    w.patch16(2, finishChecksum(onesSum(w.view(), pseudoHeaderSum(src, dst, PROTO_ICMPV6, w.length))));
    return w.finish();
  }
  return payload;
}

function isEcho(type: number, six: boolean): boolean {
  return six ? type === 128 || type === 129 : type === 0 || type === 8 || type === 13 || type === 14;
}

/** Whether the 4 bytes after an ICMP checksum hold an MTU: IPv4 3/4 (RFC 1191), ICMPv6 2 (RFC 4443). */
export function icmpCarriesMtu(type: number, code: number, six: boolean): boolean {
  return six ? type === 2 : type === 3 && code === 4;
}

function writeIcmp(h: IcmpHeader, payload: Uint8Array, six: boolean): ByteWriter {
  const w = new ByteWriter();
  w.u8(checkInt(h.type, 8, 'icmp.type'))
    .u8(checkInt(h.code, 8, 'icmp.code'))
    .u16(0);
  if (isEcho(h.type, six))
    w.u16(checkInt(h.id ?? 0, 16, 'icmp.id')).u16(checkInt(h.seq ?? 0, 16, 'icmp.seq'));
  else if (icmpCarriesMtu(h.type, h.code, six)) {
    if (six) w.u32(checkInt(h.mtu ?? 0, 32, 'icmpv6.mtu'));
    else w.u16(0).u16(checkInt(h.mtu ?? 0, 16, 'icmp.mtu'));
  } else w.u32(checkInt(h.rest ?? 0, 32, 'icmp.rest'));
  w.bytes(payload);
  return w;
}

function encodeTcp(t: TcpHeader, payload: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const opts = new ByteWriter();
  for (const o of t.options) writeTcpOption(opts, o);
  while (opts.length % 4) opts.u8(0);
  if (opts.length > 40) throw frameError(`tcp.options take ${opts.length} bytes, more than 40`);
  const fl = t.flags;
  const flags =
    (fl.cwr ? 0x80 : 0) |
    (fl.ece ? 0x40 : 0) |
    (fl.urg ? 0x20 : 0) |
    (fl.ack ? 0x10 : 0) |
    (fl.psh ? 0x08 : 0) |
    (fl.rst ? 0x04 : 0) |
    (fl.syn ? 0x02 : 0) |
    (fl.fin ? 0x01 : 0);
  const w = new ByteWriter();
  w.u16(checkInt(t.sport, 16, 'tcp.sport'))
    .u16(checkInt(t.dport, 16, 'tcp.dport'))
    .u32(checkInt(t.seq, 32, 'tcp.seq'))
    .u32(checkInt(t.ack, 32, 'tcp.ack'))
    .u8(((20 + opts.length) / 4) << 4)
    .u8(flags)
    .u16(checkInt(t.window, 16, 'tcp.window'))
    .u16(0)
    .u16(checkInt(t.urgent, 16, 'tcp.urgent'))
    .bytes(opts.view())
    .bytes(payload);
  w.patch16(16, finishChecksum(onesSum(w.view(), pseudoHeaderSum(src, dst, PROTO_TCP, w.length))));
  return w.finish();
}

function writeTcpOption(w: ByteWriter, o: TcpOption): void {
  switch (o.kind) {
    case 'eol':
      w.u8(0);
      return;
    case 'nop':
      w.u8(1);
      return;
    case 'mss':
      w.u8(2)
        .u8(4)
        .u16(checkInt(o.mss, 16, 'tcp mss'));
      return;
    case 'wscale':
      w.u8(3)
        .u8(3)
        .u8(checkInt(o.shift, 8, 'tcp wscale'));
      return;
    case 'sackPermitted':
      w.u8(4).u8(2);
      return;
    case 'sack':
      w.u8(5).u8(2 + 8 * o.blocks.length);
      for (const [l, r] of o.blocks) w.u32(checkInt(l, 32, 'sack left')).u32(checkInt(r, 32, 'sack right'));
      return;
    case 'timestamp':
      w.u8(8)
        .u8(10)
        .u32(checkInt(o.tsval, 32, 'tcp tsval'))
        .u32(checkInt(o.tsecr, 32, 'tcp tsecr'));
      return;
    case 'raw': {
      const data = hexBytes(o.data, 'tcp option data');
      w.u8(checkInt(o.type, 8, 'tcp option type'))
        .u8(2 + data.length)
        .bytes(data);
      return;
    }
  }
}

function encodeSctp(s: SctpPacket, payload: Uint8Array): Uint8Array {
  const w = new ByteWriter();
  w.u16(checkInt(s.sport, 16, 'sctp.sport'))
    .u16(checkInt(s.dport, 16, 'sctp.dport'))
    .u32(checkInt(s.vtag, 32, 'sctp.vtag'))
    .u32(0);
  for (const c of s.chunks) {
    const value = hexBytes(c.value, 'sctp chunk value');
    w.u8(checkInt(c.type, 8, 'sctp chunk type'))
      .u8(checkInt(c.flags, 8, 'sctp chunk flags'))
      .u16(4 + value.length)
      .bytes(value)
      .zeros((4 - (value.length % 4)) % 4);
  }
  w.bytes(payload);
  // RFC 9260 appendix A: the CRC32c goes in as the reflected algorithm leaves it, least significant byte first.
  const crc = crc32c(w.view());
  const le =
    ((crc & 0xff) << 24) | (((crc >>> 8) & 0xff) << 16) | (((crc >>> 16) & 0xff) << 8) | (crc >>> 24);
  w.patch32(8, le >>> 0);
  return w.finish();
}
