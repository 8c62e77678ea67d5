/**
 * A travel as a capture: every frame the device walker put on an interface, encoded as it would
 * appear there (netmodel/pcap builds the bytes and checksums), one pcapng interface per device
 * (`NODE/DEVICE`, `pod/NS/NAME/eth0`). VXLAN frames carry their inner frame; a fragmented packet is
 * written as its fragments; an ICMP error quotes the datagram it refused; an ARP exchange the walker
 * needed before a frame (an unresolved neighbour) is written on every device it crossed, before it.
 *
 * What kpath fills in that the kernel would randomise: IP ids, TCP sequence numbers (deterministic
 * hashes of the flow), TCP timestamps (0), the VXLAN UDP source port (see devices/link.ts).
 */
import type { ArpFrame, Frame } from '../devices/index.js';
import type { Travel } from '../kernel/index.js';
import type { Packet } from '../packet.js';
import {
  CaptureCollector,
  fragmentIpv4,
  frameFromPacket,
  icmpError,
  type Frame as PcapFrame,
  vxlanEncapsulate,
} from '../pcap/index.js';

/** The whole datagram of a packet, in an Ethernet frame from `src` to `dst` MAC. */
function datagram(p: Packet, srcMac: string, dstMac: string): PcapFrame {
  const i = p.icmp;
  if (p.family === 4 && i && i.type === 3 && i.quote)
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
  // Everything else as netmodel/pcap's frameFromPacket writes it (Linux's TCP options and windows,
  // ping's data), with this hop's MACs, TTL, DF and id.
  return frameFromPacket(
    p,
    { srcMac, dstMac, ttl: p.ttl ?? 64, df: p.df ?? false, ipId: p.ipId ?? 0 },
    {
      ...(p.tcpSeq ? { seq: p.tcpSeq.seq, ack: p.tcpSeq.ack } : {}),
      ...(p.tcpSeq?.mss !== undefined ? { mss: p.tcpSeq.mss } : {}),
      ...(i?.seq !== undefined ? { icmpSeq: i.seq } : {}),
    },
  );
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

/** An ARP frame as netmodel/pcap writes it (42 bytes: veth and the emulated underlay do not pad). */
export function arpPcapFrame(a: ArpFrame): PcapFrame {
  return {
    eth: { dst: a.dst, src: a.src, type: 0x0806 },
    arp: {
      op: a.op,
      senderMac: a.senderMac,
      senderIp: a.senderIp,
      targetMac: a.targetMac,
      targetIp: a.targetIp,
    },
  };
}

/** Add every frame of a travel (and of the ICMP error it sent back) to a capture. */
export function captureTravel(c: CaptureCollector, t: Travel): void {
  for (const s of t.steps) {
    if (s.kind === 'l2' && s.arp)
      for (const w of s.arp)
        c.add(`${w.ns}/${w.dev}`, arpPcapFrame(w.frame), w.dir === 'out' ? 'sent' : 'received');
    if (s.kind !== 'wire') continue;
    for (const f of pcapFrames(s.frame)) c.add(`${s.ns}/${s.dev}`, f, s.dir === 'out' ? 'sent' : 'received');
  }
  if (t.end.kind === 'stopped' && t.end.icmp) captureTravel(c, t.end.icmp);
}

export { CaptureCollector };
