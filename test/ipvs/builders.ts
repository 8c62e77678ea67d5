// Builders for the IPVS tests: services, real servers and packets from short strings.
import { parseIP } from '../../netmodel/addr.js';
import type { IpvsDestinationSpec, IpvsServiceSpec } from '../../netmodel/ipvs/index.js';
import { type Packet, packet, type TcpFlags } from '../../netmodel/packet.js';

export function rs(hostPort: string, weight = 1): IpvsDestinationSpec {
  const i = hostPort.lastIndexOf(':');
  return { ip: parseIP(hostPort.slice(0, i)), port: Number(hostPort.slice(i + 1)), weight, forward: 'Masq' };
}

export function vs(
  hostPort: string,
  scheduler: IpvsServiceSpec['scheduler'],
  dests: IpvsDestinationSpec[],
  extra: Partial<IpvsServiceSpec> = {},
): IpvsServiceSpec {
  const proto = hostPort.startsWith('udp:') ? 'UDP' : 'TCP';
  const hp = hostPort.replace(/^(udp|tcp):/, '');
  const i = hp.lastIndexOf(':');
  return {
    protocol: proto,
    vip: parseIP(hp.slice(0, i)),
    port: Number(hp.slice(i + 1)),
    scheduler,
    flags: [],
    destinations: dests,
    ...extra,
  };
}

const F = (s: string): TcpFlags => ({
  syn: s.includes('S'),
  ack: s.includes('A'),
  fin: s.includes('F'),
  rst: s.includes('R'),
});

/** tcp('10.244.1.5:40000', '10.96.0.10:80', 'S') */
export function tcp(from: string, to: string, flags = 'S', length = 60): Packet {
  const a = from.lastIndexOf(':');
  const b = to.lastIndexOf(':');
  return packet({
    proto: 'tcp',
    src: parseIP(from.slice(0, a)),
    sport: Number(from.slice(a + 1)),
    dst: parseIP(to.slice(0, b)),
    dport: Number(to.slice(b + 1)),
    tcp: F(flags),
    length,
  });
}

export function udp(from: string, to: string, length = 100): Packet {
  const a = from.lastIndexOf(':');
  const b = to.lastIndexOf(':');
  return packet({
    proto: 'udp',
    src: parseIP(from.slice(0, a)),
    sport: Number(from.slice(a + 1)),
    dst: parseIP(to.slice(0, b)),
    dport: Number(to.slice(b + 1)),
    length,
  });
}
