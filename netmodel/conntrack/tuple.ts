/**
 * Conntrack tuples: what identifies one direction of a flow (nf_conntrack_tuple). For TCP, UDP and
 * SCTP the ports; for ICMP the echo id (kept in `sport`, `dport` is 0) plus the message type and
 * code, as the kernel keeps id in the source half and type/code in the destination half.
 */
import type { Family, IP } from '../addr.js';
import { ipEquals } from '../addr.js';
import type { L4Proto, Packet } from '../packet.js';

export interface Tuple {
  readonly family: Family;
  readonly proto: L4Proto;
  readonly src: IP;
  readonly dst: IP;
  /** Source port; for ICMP/ICMPv6 the echo identifier. */
  readonly sport: number;
  /** Destination port; 0 for ICMP/ICMPv6. */
  readonly dport: number;
  /** ICMP/ICMPv6 type and code of a packet in this direction. */
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

/** IANA protocol numbers, as `conntrack -L` prints them in the second column. */
export const PROTO_NUMBER: Readonly<Record<L4Proto, number>> = {
  tcp: 6,
  udp: 17,
  sctp: 132,
  icmp: 1,
  icmpv6: 58,
};

/** AF_INET / AF_INET6 numbers, as `conntrack -L -o extended` prints them. */
export const FAMILY_NUMBER: Readonly<Record<Family, number>> = { 4: 2, 6: 10 };

export function isIcmp(proto: L4Proto): boolean {
  return proto === 'icmp' || proto === 'icmpv6';
}

/** ICMP request -> reply type map (nf_conntrack_proto_icmp.c invmap). */
const ICMP_INVERSE: ReadonlyMap<number, number> = new Map([
  [8, 0], // echo request -> echo reply
  [0, 8],
  [13, 14], // timestamp
  [14, 13],
  [15, 16], // information
  [16, 15],
  [17, 18], // address mask
  [18, 17],
]);

/** ICMPv6 (nf_conntrack_proto_icmpv6.c invmap): echo and node information. */
const ICMPV6_INVERSE: ReadonlyMap<number, number> = new Map([
  [128, 129],
  [129, 128],
  [139, 140],
  [140, 139],
]);

/** Types that may start a connection (icmp_new / icmpv6_new `valid_new`). */
const ICMP_VALID_NEW: ReadonlySet<number> = new Set([8, 13, 15, 17]);
const ICMPV6_VALID_NEW: ReadonlySet<number> = new Set([128, 139]);

/** ICMP error types whose payload quotes a packet of another flow (RELATED). */
const ICMP_ERRORS: ReadonlySet<number> = new Set([3, 4, 5, 11, 12]);
const ICMPV6_ERRORS: ReadonlySet<number> = new Set([1, 2, 3, 4]);

export function icmpIsError(proto: L4Proto, type: number): boolean {
  return proto === 'icmp' ? ICMP_ERRORS.has(type) : proto === 'icmpv6' ? ICMPV6_ERRORS.has(type) : false;
}

export function icmpValidNew(proto: L4Proto, type: number): boolean {
  return proto === 'icmp'
    ? ICMP_VALID_NEW.has(type)
    : proto === 'icmpv6'
      ? ICMPV6_VALID_NEW.has(type)
      : false;
}

/** The tuple of a packet as seen on the wire. */
export function tupleOf(p: Packet): Tuple {
  if (isIcmp(p.proto)) {
    const icmp = p.icmp ?? { type: 0, code: 0, id: 0 };
    return {
      family: p.family,
      proto: p.proto,
      src: p.src,
      dst: p.dst,
      sport: icmp.id,
      dport: 0,
      icmpType: icmp.type,
      icmpCode: icmp.code,
    };
  }
  return { family: p.family, proto: p.proto, src: p.src, dst: p.dst, sport: p.sport, dport: p.dport };
}

/**
 * The tuple of the other direction (nf_ct_invert_tuple), or undefined when the kernel cannot invert
 * it (an ICMP type with no reply type).
 */
export function invertTuple(t: Tuple): Tuple | undefined {
  if (isIcmp(t.proto)) {
    const map = t.proto === 'icmp' ? ICMP_INVERSE : ICMPV6_INVERSE;
    const inv = map.get(t.icmpType ?? -1);
    if (inv === undefined) return undefined;
    return { ...t, src: t.dst, dst: t.src, icmpType: inv, icmpCode: 0 };
  }
  // An explicit literal, not a spread: tuples are made on every packet and spreads are slow in V8.
  return { family: t.family, proto: t.proto, src: t.dst, dst: t.src, sport: t.dport, dport: t.sport };
}

/** An address in a key: IPv4 as its decimal number (cheaper to build than hex), IPv6 as hex. The
 *  family is part of every key, so the two forms never meet. */
function ipKey(ip: IP): string | number {
  return ip.family === 4 ? ip.n : ip.big.toString(16);
}

/** A string key for hash lookups; equal tuples give equal keys. */
export function tupleKey(t: Tuple): string {
  if (isIcmp(t.proto))
    return `${t.family}${t.proto}|${ipKey(t.src)}|${ipKey(t.dst)}|${t.sport}/${t.icmpType ?? 0}/${t.icmpCode ?? 0}`;
  return `${t.family}${t.proto}|${ipKey(t.src)}|${ipKey(t.dst)}|${t.sport}/${t.dport}`;
}

export function tupleEquals(a: Tuple, b: Tuple): boolean {
  return (
    a.family === b.family &&
    a.proto === b.proto &&
    ipEquals(a.src, b.src) &&
    ipEquals(a.dst, b.dst) &&
    a.sport === b.sport &&
    a.dport === b.dport &&
    (a.icmpType ?? 0) === (b.icmpType ?? 0) &&
    (a.icmpCode ?? 0) === (b.icmpCode ?? 0)
  );
}
