/**
 * The conntrack hash (nf_conntrack_hash): confirmed entries' tuples, found by value without building a
 * key string per lookup.
 *
 * It behaves exactly like a Map keyed by `tupleKey(t)`: `set` on a tuple already present replaces its
 * slot's entry and direction, `get`/`delete` find the one slot whose tuple is equal in the tupleKey
 * sense (family, protocol, both addresses, sport, and dport, or for ICMP/ICMPv6 the type and code
 * instead of dport, with absent type/code read as 0).
 *
 * Layout: `Map<number, TupleSlot>` from a 30-bit hash of those same fields (a V8 small integer, so
 * no boxed or string keys) to the first slot of a singly linked chain of the tuples that share the
 * hash; a lookup walks the chain comparing the fields. The hash of a tuple is a pure function of its
 * fields, so callers may keep it (the table stores both of an entry's on the entry at confirm, so
 * deletion does not hash again).
 */
import type { Family, IP } from '../addr.js';
import { ipEquals } from '../addr.js';
import type { L4Proto, Packet } from '../packet.js';
import type { CtEntry } from './entry.js';
import type { CtDirection } from './status.js';
import type { Tuple } from './tuple.js';

/** One tuple of a confirmed entry: the entry and which of its directions the tuple is. */
export interface TupleSlot {
  readonly entry: CtEntry;
  readonly dir: CtDirection;
  readonly tuple: Tuple;
  next: TupleSlot | undefined;
}

/** Small numbers for protocols in the hash (their IANA numbers). */
function protoCode(p: L4Proto): number {
  switch (p) {
    case 'tcp':
      return 6;
    case 'udp':
      return 17;
    case 'sctp':
      return 132;
    case 'icmp':
      return 1;
    case 'icmpv6':
      return 58;
  }
}

function isIcmpProto(p: L4Proto): boolean {
  return p === 'icmp' || p === 'icmpv6';
}

/** 32 bits of an address for hashing: IPv4 as is, IPv6 folded (xor of its four 32-bit words). */
export function ipHash(ip: IP): number {
  if (ip.family === 4) return ip.n | 0;
  const b = ip.big;
  return (
    Number(BigInt.asIntN(32, b)) ^
    Number(BigInt.asIntN(32, b >> 32n)) ^
    Number(BigInt.asIntN(32, b >> 64n)) ^
    Number(BigInt.asIntN(32, b >> 96n))
  );
}

/**
 * The hash of (family, proto, src, dst, sport, last): `last` is dport, or for ICMP/ICMPv6
 * type << 8 | code. 30 bits, non-negative (a small integer).
 */
export function tupleHash(
  family: Family,
  proto: L4Proto,
  src: IP,
  dst: IP,
  sport: number,
  last: number,
): number {
  let h = Math.imul(ipHash(src) ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ ipHash(dst), 0xc2b2ae35);
  h = Math.imul(h ^ ((sport << 16) | (last & 0xffff)), 0x27d4eb2f);
  h = Math.imul(h ^ ((protoCode(proto) << 8) | family), 0x165667b1);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** The hash of a tuple (as tupleKey reads it). */
export function hashOfTuple(t: Tuple): number {
  return tupleHash(t.family, t.proto, t.src, t.dst, t.sport, lastOf(t));
}

function lastOf(t: Tuple): number {
  return isIcmpProto(t.proto) ? (((t.icmpType ?? 0) & 0xff) << 8) | ((t.icmpCode ?? 0) & 0xff) : t.dport;
}

/** tupleKey(t) === tupleKey of the tuple given by parts (ICMP compares type and code, others dport). */
function sameTuple(
  t: Tuple,
  family: Family,
  proto: L4Proto,
  src: IP,
  dst: IP,
  sport: number,
  dport: number,
  icmpType: number,
  icmpCode: number,
): boolean {
  if (t.family !== family || t.proto !== proto || t.sport !== sport) return false;
  if (isIcmpProto(proto)) {
    if ((t.icmpType ?? 0) !== icmpType || (t.icmpCode ?? 0) !== icmpCode) return false;
  } else if (t.dport !== dport) return false;
  return ipEquals(t.src, src) && ipEquals(t.dst, dst);
}

export class TupleIndex {
  private readonly chains = new Map<number, TupleSlot>();

  /** The slot of `t`, whose hash is `hash` (hashOfTuple(t)). */
  get(t: Tuple, hash: number): TupleSlot | undefined {
    return this.walk(
      hash,
      t.family,
      t.proto,
      t.src,
      t.dst,
      t.sport,
      t.dport,
      t.icmpType ?? 0,
      t.icmpCode ?? 0,
    );
  }

  /** The slot of the tuple of a packet as seen on the wire (tupleOf(p)), without building the tuple. */
  getPacket(p: Packet): TupleSlot | undefined {
    if (isIcmpProto(p.proto)) {
      const type = p.icmp?.type ?? 0;
      const code = p.icmp?.code ?? 0;
      const id = p.icmp?.id ?? 0;
      const h = tupleHash(p.family, p.proto, p.src, p.dst, id, ((type & 0xff) << 8) | (code & 0xff));
      return this.walk(h, p.family, p.proto, p.src, p.dst, id, 0, type, code);
    }
    const h = tupleHash(p.family, p.proto, p.src, p.dst, p.sport, p.dport);
    return this.walk(h, p.family, p.proto, p.src, p.dst, p.sport, p.dport, 0, 0);
  }

  /** The slot of invertTuple(t) for a TCP/UDP/SCTP tuple (addresses and ports swapped), without building it. */
  getInverse(t: Tuple): TupleSlot | undefined {
    const h = tupleHash(t.family, t.proto, t.dst, t.src, t.dport, t.sport);
    return this.walk(h, t.family, t.proto, t.dst, t.src, t.dport, t.sport, 0, 0);
  }

  /**
   * Map.set semantics: a tuple already present is replaced by a new slot (slots handed out earlier keep
   * what they said, as the Map's old values did).
   */
  set(t: Tuple, hash: number, entry: CtEntry, dir: CtDirection): void {
    this.delete(t, hash);
    this.chains.set(hash, { entry, dir, tuple: t, next: this.chains.get(hash) });
  }

  /** Map.delete semantics: removes the slot of `t` if there is one. */
  delete(t: Tuple, hash: number): void {
    let prev: TupleSlot | undefined;
    const family = t.family;
    const proto = t.proto;
    const type = t.icmpType ?? 0;
    const code = t.icmpCode ?? 0;
    for (let s = this.chains.get(hash); s; prev = s, s = s.next) {
      if (!sameTuple(s.tuple, family, proto, t.src, t.dst, t.sport, t.dport, type, code)) continue;
      if (prev) prev.next = s.next;
      else if (s.next) this.chains.set(hash, s.next);
      else this.chains.delete(hash);
      return;
    }
  }

  private walk(
    hash: number,
    family: Family,
    proto: L4Proto,
    src: IP,
    dst: IP,
    sport: number,
    dport: number,
    icmpType: number,
    icmpCode: number,
  ): TupleSlot | undefined {
    for (let s = this.chains.get(hash); s; s = s.next) {
      if (sameTuple(s.tuple, family, proto, src, dst, sport, dport, icmpType, icmpCode)) return s;
    }
    return undefined;
  }
}

/**
 * The hash of an entry's NAT source (nf_nat_bysource: family, protocol, source address, source port
 * or ICMP id), 30 bits. Entries with the same hash may still differ: compare with `sameSource`.
 */
export function sourceHash(t: Tuple): number {
  let h = Math.imul(ipHash(t.src) ^ 0x7f4a7c15, 0x85ebca6b);
  h = Math.imul(h ^ ((protoCode(t.proto) << 20) | (t.family << 16) | (t.sport & 0xffff)), 0xc2b2ae35);
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

/** Same NAT source: what the old string key `family proto | src | sport` compared. */
export function sameSource(a: Tuple, b: Tuple): boolean {
  return a.family === b.family && a.proto === b.proto && a.sport === b.sport && ipEquals(a.src, b.src);
}
