/**
 * VXLAN encapsulation as the Linux vxlan driver sends it (drivers/net/vxlan/vxlan_core.c,
 * vxlan_xmit_one): outer Ethernet / IPv4 (TTL 64 unless the device sets one, TOS 0, DF clear) / UDP
 * to the device's dstport (8472 by default) / VXLAN (flags 0x08, 24-bit VNI) / the inner frame.
 * The outer UDP checksum is computed unless the device was made with `noudpcsum` (measured on this
 * machine's kernel: `ip -d link` shows `udpcsum` on a vxlan device created without the flag, and
 * the outer checksum is non-zero; docs/podnet-measured.md).
 *
 * The outer source port (include/net/udp.h, udp_flow_src_port): hash = skb_get_hash(skb), the flow
 * dissector's hash of the inner packet keyed with a random per-boot secret; then hash ^= hash << 16
 * and port = ((hash * (max - min)) >> 32) + min, with [min, max] the netns's ip_local_port_range
 * (32768 60999) unless the device sets `srcport MIN MAX`. The mapping is exact here; the hash is
 * not reproducible (its key is random per boot), so `vxlanFlowHash` stands in with a seeded hash of
 * the same inner flow keys: one port per inner flow and direction, as on a real kernel.
 */
import { frameError } from './bytes.js';
import { ETHERTYPE_IPV4, type Frame, PROTO_UDP, VXLAN_PORT_LINUX } from './frame.js';

/** Bytes VXLAN over IPv4 adds inside the underlay's IP MTU: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (VXLAN_HEADROOM). */
export const VXLAN_IPV4_HEADROOM = 50;
/** Bytes on the underlay wire beyond the inner IP packet: the 50 plus the outer Ethernet header. */
export const VXLAN_IPV4_WIRE_OVERHEAD = 64;

/** Linux's default net.ipv4.ip_local_port_range. */
export const LOCAL_PORT_RANGE: readonly [number, number] = [32768, 60999];

/** udp_flow_src_port's mapping of a 32-bit flow hash into [min, max). */
export function udpFlowSrcPort(hash: number, range: readonly [number, number] = LOCAL_PORT_RANGE): number {
  const [min, max] = range;
  const h = (hash ^ (hash << 16)) >>> 0;
  // (u64)h * (max - min) >> 32, exact in doubles: h < 2^32 and max - min < 2^16.
  return Math.floor((h * (max - min)) / 2 ** 32) + min;
}

/**
 * A deterministic stand-in for the kernel's skb flow hash of an inner frame: FNV-1a over the keys
 * the flow dissector uses (addresses, protocol, ports; ICMP has no ports), mixed with `seed`. Not the
 * kernel's value (that one has a random key), but the same shape: equal for the packets of one flow
 * and direction, different for the reverse direction.
 */
export function vxlanFlowHash(inner: Frame, seed = 0): number {
  const ip = inner.ipv4 ?? inner.ipv6;
  const keys: (string | number)[] = [inner.eth.type];
  if (ip) keys.push(ip.src, ip.dst);
  if (inner.ipv4) keys.push(inner.ipv4.protocol);
  if (inner.ipv6) keys.push(inner.ipv6.nextHeader);
  const l4 = inner.tcp ?? inner.udp ?? inner.sctp;
  if (l4) keys.push(l4.sport, l4.dport);
  if (!ip) keys.push(inner.eth.src, inner.eth.dst);
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (const ch of keys.join('|')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

export interface VxlanEncap {
  /** The underlay MACs: the sending node's eth0 and the next hop's (the remote node on a flat underlay). */
  readonly srcMac: string;
  readonly dstMac: string;
  /** The VTEP addresses: the device's `local` and the FDB entry's `dst`. */
  readonly src: string;
  readonly dst: string;
  readonly vni: number;
  /** The outer UDP source port (see vxlanFlowHash and udpFlowSrcPort). */
  readonly sport: number;
  readonly dport?: number;
  readonly ttl?: number;
  readonly id?: number;
  readonly zeroChecksum?: boolean;
}

export function vxlanEncapsulate(inner: Frame, e: VxlanEncap): Frame {
  if (!Number.isInteger(e.vni) || e.vni < 0 || e.vni > 0xffffff)
    throw frameError(`vxlan VNI ${e.vni} is out of range (0..16777215)`);
  return {
    eth: { dst: e.dstMac, src: e.srcMac, type: ETHERTYPE_IPV4 },
    ipv4: {
      dscp: 0,
      ecn: 0,
      id: e.id ?? 0,
      df: false,
      mf: false,
      fragOffset: 0,
      ttl: e.ttl ?? 64,
      protocol: PROTO_UDP,
      src: e.src,
      dst: e.dst,
    },
    udp: {
      sport: e.sport,
      dport: e.dport ?? VXLAN_PORT_LINUX,
      ...(e.zeroChecksum ? { zeroChecksum: true } : {}),
    },
    vxlan: { vni: e.vni },
    inner,
  };
}
