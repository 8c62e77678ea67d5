/**
 * A travel as a capture: every frame the device walker put on an interface, encoded as it would
 * appear there (netmodel/pcap builds the bytes and checksums), one pcapng interface per device
 * (`NODE/DEVICE`, `pod/NS/NAME/eth0`). VXLAN frames carry their inner frame; a fragmented packet is
 * written as its fragments; an ICMP error quotes the datagram it refused.
 *
 * What kpath fills in that the kernel would randomise: IP ids, TCP sequence numbers (deterministic
 * hashes of the flow), TCP timestamps (0), the VXLAN UDP source port (see devices/link.ts).
 */
import type { Frame } from '../devices/index.js';
import type { Packet } from '../packet.js';
import {
  CaptureCollector,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  fragmentIpv4,
  hexText,
  icmpError,
  type Frame as PcapFrame,
  PROTO_ICMP,
  PROTO_ICMPV6,
  PROTO_SCTP,
  PROTO_TCP,
  PROTO_UDP,
  pingPayload,
  vxlanEncapsulate,
} from '../pcap/index.js';
import type { Travel } from './walk.js';

const PROTO: Record<Packet['proto'], number> = {
  tcp: PROTO_TCP,
  udp: PROTO_UDP,
  sctp: PROTO_SCTP,
  icmp: PROTO_ICMP,
  icmpv6: PROTO_ICMPV6,
};

function zeros(n: number): string {
  return hexText(new Uint8Array(Math.max(0, n)));
}

/** The whole datagram of a packet, in an Ethernet frame from `src` to `dst` MAC. */
function datagram(p: Packet, srcMac: string, dstMac: string): PcapFrame {
  const ipHeader = p.family === 4 ? 20 : 40;
  const eth = { src: srcMac, dst: dstMac, type: p.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6 };
  const ip =
    p.family === 4
      ? {
          ipv4: {
            dscp: 0,
            ecn: 0,
            id: p.ipId ?? 0,
            df: p.df ?? false,
            mf: false,
            fragOffset: 0,
            ttl: p.ttl ?? 64,
            protocol: PROTO[p.proto],
            src: p.src.text,
            dst: p.dst.text,
          },
        }
      : {
          ipv6: {
            trafficClass: 0,
            flowLabel: 0,
            nextHeader: PROTO[p.proto],
            hopLimit: p.ttl ?? 64,
            src: p.src.text,
            dst: p.dst.text,
          },
        };
  const rest = p.length - ipHeader;
  switch (p.proto) {
    case 'tcp': {
      const flags = p.tcp ?? { syn: true, ack: false, fin: false, rst: false };
      const syn = flags.syn;
      const mss = p.tcpSeq?.mss ?? 1460;
      // Linux's SYN and SYN-ACK options: MSS, SACK permitted, timestamps, NOP, window scale 7 (20 bytes).
      const options = syn
        ? ([
            { kind: 'mss', mss },
            { kind: 'sackPermitted' },
            { kind: 'timestamp', tsval: 0, tsecr: 0 },
            { kind: 'nop' },
            { kind: 'wscale', shift: 7 },
          ] as const)
        : [];
      // The initial window: the largest multiple of the segment size under 65535 (64240 for MSS 1460).
      const seg = mss - (flags.ack ? 12 : 0);
      const window = syn ? Math.floor(65535 / seg) * seg : 502;
      return {
        eth,
        ...ip,
        tcp: {
          sport: p.sport,
          dport: p.dport,
          seq: p.tcpSeq?.seq ?? 0,
          ack: flags.ack ? (p.tcpSeq?.ack ?? 0) : 0,
          flags: { syn: flags.syn, ack: flags.ack, fin: flags.fin, rst: flags.rst },
          window,
          urgent: 0,
          options,
        },
        payload: zeros(rest - (syn ? 40 : 20)),
      };
    }
    case 'udp':
      return { eth, ...ip, udp: { sport: p.sport, dport: p.dport }, payload: zeros(rest - 8) };
    case 'sctp':
      return {
        eth,
        ...ip,
        sctp: { sport: p.sport, dport: p.dport, vtag: 0, chunks: [{ type: 1, flags: 0, value: zeros(16) }] },
      };
    case 'icmp':
    case 'icmpv6': {
      const i = p.icmp ?? { type: 8, code: 0, id: 0 };
      if (p.family === 4 && i.type === 3 && i.quote)
        return icmpError({
          original: datagram(i.quote, dstMac, srcMac),
          srcMac,
          dstMac,
          from: p.src.text,
          type: 3,
          code: i.code,
          ...(i.mtu !== undefined ? { mtu: i.mtu } : {}),
          ttl: p.ttl ?? 64,
          id: p.ipId ?? 0,
        });
      const head = { type: i.type, code: i.code, id: i.id, seq: i.seq ?? 1 };
      return {
        eth,
        ...ip,
        ...(p.proto === 'icmp' ? { icmp: head } : { icmpv6: head }),
        payload: pingPayload(rest - 8, 0n),
      };
    }
  }
}

/** The frames a capture on the device sees for one walker frame (several when fragmented). */
export function pcapFrames(f: Frame): PcapFrame[] {
  if (f.vxlan) {
    const p = f.packet;
    return pcapFrames(f.vxlan.inner).map((inner) =>
      vxlanEncapsulate(inner, {
        srcMac: f.src,
        dstMac: f.dst,
        src: p.src.text,
        dst: p.dst.text,
        vni: f.vxlan!.vni,
        sport: p.sport,
        dport: p.dport,
        ttl: p.ttl ?? 64,
        id: p.ipId ?? 0,
      }),
    );
  }
  const whole = datagram(f.packet, f.src, f.dst);
  if (f.fragments && f.packet.family === 4) return fragmentIpv4(whole, f.fragments[0]!.length);
  return [whole];
}

/** Add every frame of a travel (and of the ICMP error it sent back) to a capture. */
export function captureTravel(c: CaptureCollector, t: Travel): void {
  for (const s of t.steps) {
    if (s.kind !== 'wire') continue;
    for (const f of pcapFrames(s.frame)) c.add(`${s.ns}/${s.dev}`, f, s.dir === 'out' ? 'sent' : 'received');
  }
  if (t.end.kind === 'stopped' && t.end.icmp) captureTravel(c, t.end.icmp);
}

export { CaptureCollector };
