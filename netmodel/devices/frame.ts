/**
 * A frame on a wire: the Ethernet header and the IP packet it carries, and for a VXLAN frame the
 * encapsulated inner frame. This is what a capture of that interface would show (netmodel/pcap
 * encodes it): MACs, ethertype, the IP header (TTL, DF, id, total length), the L4 header, and on the
 * underlay the outer IPv4/UDP/VXLAN headers around the inner Ethernet frame.
 */
import type { Packet } from '../packet.js';
import type { Mac } from './mac.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;

/** One IPv4 fragment of a packet: byte offset of its data, its total length, more-fragments flag. */
export interface Fragment {
  readonly offset: number;
  readonly length: number;
  readonly mf: boolean;
}

export interface Frame {
  readonly src: Mac;
  readonly dst: Mac;
  readonly ethertype: number;
  readonly packet: Packet;
  /** The packet travels as these fragments (it was fragmented for a smaller MTU on the way). */
  readonly fragments?: readonly Fragment[];
  /** The packet is UDP to a VXLAN port and carries this inner frame (RFC 7348: 8-byte header, VNI). */
  readonly vxlan?: { readonly vni: number; readonly inner: Frame };
}

/** Bytes VXLAN adds in front of the inner Ethernet frame: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14. */
export const VXLAN_OVERHEAD = 50;

export function ethertypeOf(p: Packet): number {
  return p.family === 4 ? ETH_P_IP : ETH_P_IPV6;
}

/** An ARP frame (RFC 826 over Ethernet): who-has (op 1, broadcast) or is-at (op 2, unicast). */
export interface ArpFrame {
  readonly src: Mac;
  readonly dst: Mac;
  readonly op: 1 | 2;
  readonly senderMac: Mac;
  readonly senderIp: string;
  /** 00:00:00:00:00:00 in a request (Linux's arp_send with no target hardware address). */
  readonly targetMac: Mac;
  readonly targetIp: string;
}

/** One frame as one device's capture sees it: transmitted (`out`) or received (`in`). */
export interface ArpWire {
  readonly ns: string;
  readonly dev: string;
  readonly dir: 'out' | 'in';
  readonly frame: ArpFrame;
}
