import { parseIP, tryParseHostPort } from '../../netmodel/addr.js';
import type { Packet, TcpFlags } from '../../netmodel/packet.js';
import { packet, SYN } from '../../netmodel/packet.js';

function hp(text: string): { ip: ReturnType<typeof parseIP>; port: number } {
  const r = tryParseHostPort(text);
  if (!r) throw new Error(`bad host:port ${text}`);
  return r;
}

export function tcp(from: string, to: string, flags: TcpFlags = SYN, length = 60): Packet {
  const a = hp(from);
  const b = hp(to);
  return packet({ proto: 'tcp', src: a.ip, dst: b.ip, sport: a.port, dport: b.port, tcp: flags, length });
}

export function udp(from: string, to: string, length = 38): Packet {
  const a = hp(from);
  const b = hp(to);
  return packet({ proto: 'udp', src: a.ip, dst: b.ip, sport: a.port, dport: b.port, length });
}

export function icmp(from: string, to: string, type: number, id: number, code = 0, length = 36): Packet {
  const src = parseIP(from);
  return packet({
    proto: src.family === 4 ? 'icmp' : 'icmpv6',
    src,
    dst: parseIP(to),
    icmp: { type, code, id },
    length,
  });
}

/** The same packet coming back. */
export function reverse(p: Packet, tcpFlags?: TcpFlags): Packet {
  return packet({
    proto: p.proto,
    src: p.dst,
    dst: p.src,
    sport: p.dport,
    dport: p.sport,
    ...(p.tcp ? { tcp: tcpFlags ?? p.tcp } : {}),
    length: p.length,
  });
}

export const S = 1000;
