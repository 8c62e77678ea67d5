/**
 * The conntrack hash (nf_conntrack_hash): confirmed entries' tuples, found by value without building a
 * key string per lookup.
 *
 * Layout: the kernel's intrusive hash lists. Two bucket arrays indexed by a 30-bit hash of a
 * tuple's fields, masked to the table size (doubled when the entries outnumber the buckets), hold
 * the first entry of a chain: one set of chains through the entries' original tuples
 * (`CtEntry.nextOrig`), one through their reply tuples (`CtEntry.nextReply`). An entry in the index
 * costs no object of its own (the per-tuple slot objects this replaced were two of the eight objects
 * each TIME_WAIT entry kept alive), and a lookup costs two array reads, no Map lookup. A lookup
 * walks the chains comparing fields: equal in the tupleKey sense (family, protocol, both addresses,
 * sport, and dport, or for ICMP/ICMPv6 the type and code instead of dport, absent type/code read
 * as 0).
 *
 * The table never holds two equal tuples of different entries (confirm refuses a clash), so the
 * answer does not depend on the order the chains are searched, except for an entry whose original
 * and reply tuples are equal (a flow to itself): the reply chain is searched first, so such a
 * packet is REPLY, as it was when both tuples went into one Map (the reply was set last). A lookup
 * returns the entry and leaves its direction in `hitDir`, so that it allocates nothing.
 */
import type { Family, IP } from '../addr.js';
import { ipEquals } from '../addr.js';
import type { L4Proto, Packet } from '../packet.js';
import type { CtEntry } from './entry.js';
import type { CtDirection } from './status.js';
import type { Tuple } from './tuple.js';

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

/** A bucket array of `n` empty heads (packed, so that reads need no hole check). */
function emptyBuckets(n: number): (CtEntry | undefined)[] {
  return new Array<CtEntry | undefined>(n).fill(undefined);
}

/** Buckets to start with; the table doubles them when it holds more entries than buckets. */
const INITIAL_BUCKETS = 1024;

export class TupleIndex {
  /** Heads of the chains through original tuples, by CtEntry.origHash & mask. */
  private origHeads: (CtEntry | undefined)[] = emptyBuckets(INITIAL_BUCKETS);
  /** Heads of the chains through reply tuples, by CtEntry.replyHash & mask. */
  private replyHeads: (CtEntry | undefined)[] = emptyBuckets(INITIAL_BUCKETS);
  private mask = INITIAL_BUCKETS - 1;
  private count = 0;
  /** The direction of the tuple the last successful lookup found. */
  hitDir: CtDirection = 'ORIGINAL';

  /** The entry with tuple `t` (hash: hashOfTuple(t)); its direction in `hitDir`. */
  get(t: Tuple, hash: number): CtEntry | undefined {
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

  /** The entry of the tuple of a packet as seen on the wire (tupleOf(p)), without building the tuple. */
  getPacket(p: Packet): CtEntry | undefined {
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

  /** The entry of invertTuple(t) for a TCP/UDP/SCTP tuple (addresses and ports swapped), without building it. */
  getInverse(t: Tuple): CtEntry | undefined {
    const h = tupleHash(t.family, t.proto, t.dst, t.src, t.dport, t.sport);
    return this.walk(h, t.family, t.proto, t.dst, t.src, t.dport, t.sport, 0, 0);
  }

  /** Link both tuples of `e` (whose origHash and replyHash are set), at the heads of their chains. */
  add(e: CtEntry): void {
    if (++this.count > this.mask + 1) this.grow();
    this.link(e);
  }

  /** Unlink both tuples of `e` (nothing happens for a chain it is not in). */
  remove(e: CtEntry): void {
    const heads = this.origHeads;
    const ob = e.origHash & this.mask;
    let found = false;
    let prev: CtEntry | undefined;
    for (let s = heads[ob]; s; prev = s, s = s.nextOrig) {
      if (s !== e) continue;
      if (prev) prev.nextOrig = s.nextOrig;
      else heads[ob] = s.nextOrig;
      found = true;
      break;
    }
    const rheads = this.replyHeads;
    const rb = e.replyHash & this.mask;
    prev = undefined;
    for (let s = rheads[rb]; s; prev = s, s = s.nextReply) {
      if (s !== e) continue;
      if (prev) prev.nextReply = s.nextReply;
      else rheads[rb] = s.nextReply;
      break;
    }
    if (found) this.count--;
    e.nextOrig = undefined;
    e.nextReply = undefined;
  }

  private link(e: CtEntry): void {
    const ob = e.origHash & this.mask;
    e.nextOrig = this.origHeads[ob];
    this.origHeads[ob] = e;
    const rb = e.replyHash & this.mask;
    e.nextReply = this.replyHeads[rb];
    this.replyHeads[rb] = e;
  }

  /** Twice the buckets: every entry (each is in exactly one original chain) is linked again. */
  private grow(): void {
    const old = this.origHeads;
    const n = old.length * 2;
    this.origHeads = emptyBuckets(n);
    this.replyHeads = emptyBuckets(n);
    this.mask = n - 1;
    for (let b = 0; b < old.length; b++) {
      for (let e = old[b]; e; ) {
        const next = e.nextOrig;
        this.link(e);
        e = next;
      }
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
  ): CtEntry | undefined {
    const b = hash & this.mask;
    for (let e = this.replyHeads[b]; e; e = e.nextReply) {
      // The full hash first: a bucket also holds tuples whose hashes differ above the mask.
      if (
        e.replyHash === hash &&
        sameTuple(e.reply, family, proto, src, dst, sport, dport, icmpType, icmpCode)
      ) {
        this.hitDir = 'REPLY';
        return e;
      }
    }
    for (let e = this.origHeads[b]; e; e = e.nextOrig) {
      if (
        e.origHash === hash &&
        sameTuple(e.original, family, proto, src, dst, sport, dport, icmpType, icmpCode)
      ) {
        this.hitDir = 'ORIGINAL';
        return e;
      }
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
