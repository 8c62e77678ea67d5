/** Frames for the pcap tests: a pod-to-pod flow across two flannel VXLAN nodes, and one of each kind. */
import {
  type Frame,
  fragmentIpv4,
  hexText,
  icmpFragNeeded,
  type TcpHeader,
  vxlanEncapsulate,
} from '../../netmodel/pcap/index.js';

export const MAC = {
  podA: '0a:58:0a:f4:01:02',
  cni0A: '0a:58:0a:f4:01:01',
  flannelA: '42:6a:0a:f4:01:00',
  flannelB: '42:6a:0a:f4:02:00',
  eth0A: '02:00:0a:00:00:0b',
  eth0B: '02:00:0a:00:00:0c',
};

export function ip4(fields: Partial<Frame['ipv4']> & { src: string; dst: string; protocol: number }) {
  return { dscp: 0, ecn: 0, id: 0x1234, df: true, mf: false, fragOffset: 0, ttl: 64, ...fields };
}

export function payload(n: number, start = 0): string {
  return hexText(Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff));
}

export const SYN: TcpHeader = {
  sport: 40000,
  dport: 8080,
  seq: 0x9abcdef0,
  ack: 0,
  flags: { syn: true },
  window: 64860,
  urgent: 0,
  options: [
    { kind: 'mss', mss: 1410 },
    { kind: 'sackPermitted' },
    { kind: 'timestamp', tsval: 123456, tsecr: 0 },
    { kind: 'nop' },
    { kind: 'wscale', shift: 7 },
  ],
};

export const tcpSyn: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x0800 },
  ipv4: ip4({ src: '10.244.1.2', dst: '10.244.2.2', protocol: 6 }),
  tcp: SYN,
};

export const tcpData: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x0800 },
  ipv4: ip4({ src: '10.244.1.2', dst: '10.244.2.2', protocol: 6, id: 0x1235 }),
  tcp: {
    ...SYN,
    seq: 0x9abcdef1,
    ack: 0x11223344,
    flags: { ack: true, psh: true },
    window: 507,
    options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'timestamp', tsval: 123457, tsecr: 99 }],
  },
  payload: hexText(new TextEncoder().encode('GET / HTTP/1.1\r\nHost: web\r\n\r\n')),
};

export const udpDatagram: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x0800 },
  ipv4: ip4({ src: '10.244.1.2', dst: '10.244.2.2', protocol: 17, df: false }),
  udp: { sport: 40001, dport: 4242 },
  payload: payload(33),
};

export const sctpInit: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x0800 },
  ipv4: ip4({ src: '10.244.1.2', dst: '10.244.2.2', protocol: 132 }),
  sctp: {
    sport: 40002,
    dport: 9999,
    vtag: 0,
    // INIT: initiate tag, a_rwnd, outbound streams, inbound streams, initial TSN (RFC 9260 3.3.2).
    chunks: [{ type: 1, flags: 0, value: '0102030400010000000a000a11223344' }],
  },
};

export const echoRequest: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x0800 },
  ipv4: ip4({ src: '10.244.1.2', dst: '10.244.2.2', protocol: 1 }),
  icmp: { type: 8, code: 0, id: 0x4d2, seq: 1 },
  payload: payload(56),
};

export const echoReply: Frame = {
  eth: { dst: MAC.podA, src: MAC.cni0A, type: 0x0800 },
  ipv4: ip4({ src: '10.244.2.2', dst: '10.244.1.2', protocol: 1, df: false, ttl: 62 }),
  icmp: { type: 0, code: 0, id: 0x4d2, seq: 1 },
  payload: payload(56),
};

export const arpRequest: Frame = {
  eth: { dst: 'ff:ff:ff:ff:ff:ff', src: MAC.podA, type: 0x0806 },
  arp: {
    op: 1,
    senderMac: MAC.podA,
    senderIp: '10.244.1.2',
    targetMac: '00:00:00:00:00:00',
    targetIp: '10.244.1.1',
  },
};

export const arpReply: Frame = {
  eth: { dst: MAC.podA, src: MAC.cni0A, type: 0x0806 },
  arp: { op: 2, senderMac: MAC.cni0A, senderIp: '10.244.1.1', targetMac: MAC.podA, targetIp: '10.244.1.2' },
};

export const ipv6Udp: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x86dd },
  ipv6: {
    trafficClass: 0,
    flowLabel: 0x12345,
    nextHeader: 17,
    hopLimit: 64,
    src: 'fd00:10:244:1::2',
    dst: 'fd00:10:244:2::2',
  },
  udp: { sport: 40003, dport: 4242 },
  payload: payload(12),
};

export const ipv6Echo: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x86dd },
  ipv6: {
    trafficClass: 0,
    flowLabel: 0,
    nextHeader: 58,
    hopLimit: 64,
    src: 'fd00:10:244:1::2',
    dst: 'fd00:10:244:2::2',
  },
  icmpv6: { type: 128, code: 0, id: 7, seq: 1 },
  payload: payload(56),
};

/** The SYN as it leaves node A's flannel.1 (TTL 63, flannel MACs), then inside VXLAN on eth0. */
export const synOnFlannel: Frame = {
  ...tcpSyn,
  eth: { dst: MAC.flannelB, src: MAC.flannelA, type: 0x0800 },
  ipv4: { ...tcpSyn.ipv4!, ttl: 63 },
};

export const synOnUnderlay: Frame = vxlanEncapsulate(synOnFlannel, {
  srcMac: MAC.eth0A,
  dstMac: MAC.eth0B,
  src: '10.0.0.11',
  dst: '10.0.0.12',
  vni: 1,
  sport: 51234,
  id: 0x5a5a,
});

/** A 1500-byte datagram with DF refused at a 1450 hop: the frag-needed the node sends back. */
export const bigDf: Frame = {
  eth: { dst: MAC.cni0A, src: MAC.podA, type: 0x0800 },
  ipv4: ip4({ src: '10.244.1.2', dst: '10.244.2.2', protocol: 1 }),
  icmp: { type: 8, code: 0, id: 9, seq: 1 },
  payload: payload(1472),
};

export const fragNeeded: Frame = icmpFragNeeded({
  original: bigDf,
  srcMac: MAC.cni0A,
  dstMac: MAC.podA,
  from: '10.244.1.1',
  mtu: 1450,
  id: 0x777,
});

export const fragments: Frame[] = fragmentIpv4({ ...bigDf, ipv4: { ...bigDf.ipv4!, df: false } }, 1450);

export const allFrames: Record<string, Frame> = {
  tcpSyn,
  tcpData,
  udpDatagram,
  sctpInit,
  echoRequest,
  echoReply,
  arpRequest,
  arpReply,
  ipv6Udp,
  ipv6Echo,
  synOnFlannel,
  synOnUnderlay,
  fragNeeded,
  fragment0: fragments[0]!,
  fragment1: fragments[1]!,
};
