/**
 * The link layer of a device, as data: what kind it is, its MAC, and where a frame it transmits goes.
 * The walker (netmodel/kernel/walk.ts) asks `transmit` of the device kind; it never branches on the
 * kind itself.
 *
 *   veth      a frame sent on one end arrives on the peer end (in the peer's namespace)
 *   ethernet  a node's uplink on the underlay segment: arrives on the member whose MAC it is for
 *   bridge    a frame the bridge's own stack sends goes to the port the FDB names (or floods)
 *   vxlan     the frame's destination MAC is looked up in the device's FDB; the frame is wrapped
 *             in UDP to that VTEP and sent by the node's stack (OUTPUT, POSTROUTING, routing)
 */
import type { IP } from '../addr.js';
import type { BridgeFdb } from './fdb.js';
import type { Mac } from './mac.js';

export interface VxlanFdbEntry {
  readonly mac: Mac;
  readonly dst: IP;
}

export type LinkSpec =
  | { readonly kind: 'loopback' }
  | { readonly kind: 'veth'; readonly peerNs: string; readonly peer: string }
  | { readonly kind: 'ethernet'; readonly segment: string }
  | { readonly kind: 'bridge'; readonly fdb: BridgeFdb }
  | {
      readonly kind: 'vxlan';
      readonly vni: number;
      /** UDP destination port (8472: the Linux and flannel default). */
      readonly port: number;
      readonly local: IP;
      /** The underlay device (`dev eth0`). */
      readonly dev: string;
      /** nolearning: the FDB only holds what a program put there (flannel). */
      readonly learning: boolean;
      /** `bridge fdb append <mac> dev flannel.1 dst <ip> self permanent`. */
      readonly fdb: VxlanFdbEntry[];
    };

export interface Link {
  readonly name: string;
  readonly mac: Mac;
  readonly spec: LinkSpec;
  /** net.ipv4.conf.<dev>.proxy_arp (Calico sets it on cali veths). */
  readonly proxyArp?: boolean;
  /** Bridge port hairpin mode (a frame may go back out the port it came in on). */
  readonly hairpin?: boolean;
}

/** Where a frame transmitted on a device goes next. */
export type TransmitStep =
  | { readonly kind: 'peer'; readonly ns: string; readonly dev: string }
  | { readonly kind: 'segment'; readonly segment: string }
  | { readonly kind: 'bridge-out'; readonly bridge: string }
  | {
      readonly kind: 'encap';
      readonly vni: number;
      readonly port: number;
      readonly local: IP;
      readonly remote: IP;
    }
  | { readonly kind: 'drop'; readonly reason: string };

/** The one small function per device kind: where does a frame sent on this device go? */
export function transmit(link: Link, dstMac: Mac): TransmitStep {
  const s = link.spec;
  switch (s.kind) {
    case 'veth':
      return { kind: 'peer', ns: s.peerNs, dev: s.peer };
    case 'ethernet':
      return { kind: 'segment', segment: s.segment };
    case 'bridge':
      return { kind: 'bridge-out', bridge: link.name };
    case 'vxlan': {
      const e = s.fdb.find((x) => x.mac === dstMac);
      if (!e)
        return {
          kind: 'drop',
          reason: `${link.name} has no FDB entry for ${dstMac} (nolearning: only entries a program adds)`,
        };
      return { kind: 'encap', vni: s.vni, port: s.port, local: s.local, remote: e.dst };
    }
    case 'loopback':
      return { kind: 'drop', reason: 'lo does not transmit frames' };
  }
}

/**
 * The UDP source port of a VXLAN packet (udp_flow_src_port): a hash of the inner flow scaled into the
 * local port range 32768-60999. The kernel hashes with a per-boot random seed; kpath uses FNV-1a over
 * the inner 5-tuple, so one flow and direction always gets one port, as on a real node.
 */
export function vxlanSourcePort(flowKey: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < flowKey.length; i++) {
    h ^= flowKey.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const min = 32768;
  const max = 61000;
  return Number((BigInt(h >>> 0) * BigInt(max - min)) >> 32n) + min;
}
