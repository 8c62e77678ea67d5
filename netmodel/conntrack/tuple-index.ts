/**
 * The conntrack hash (nf_conntrack_hash): confirmed entries' tuples, found by value without building a
 * key string per lookup.
 *
 * Layout: one open-addressing table (linear probing) holding both tuples of every entry, as the
 * kernel's one hash holds both tuplehash nodes. A slot is a key in an Int32Array (the tuple's 30-bit
 * hash shifted left, its direction in the low bit; -1 empty, -2 a deleted slot) and the entry in a
 * parallel array. A lookup reads keys, which sit sixteen to a cache line, and touches an entry only
 * when the full hash matches: a miss (a new flow's first packet, the NAT port search's candidates,
 * confirm's clash test) loads no entry at all, where chains through the entries loaded every entry
 * of the bucket. At ~30,000 TIME_WAIT entries spread over the heap those loads were cache misses,
 * the dearest part of a new connection's walk in the real proxy. The table keeps at most half its
 * slots used (live or deleted) and is rebuilt (doubled while over a quarter live) beyond that.
 * Entries compare equal in the tupleKey sense (family, protocol, both addresses, sport, and dport,
 * or for ICMP/ICMPv6 the type and code instead of dport, absent type/code read as 0).
 *
 * The table never holds two equal tuples of different entries (confirm refuses a clash), so the
 * answer does not depend on the probe order, except for an entry whose original and reply tuples
 * are equal (a flow to itself): such a packet is REPLY, as it was when both tuples went into one Map
 * (the reply was set last). A lookup returns the entry and leaves its direction in `hitDir`, so that
 * it allocates nothing.
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

/** Slot keys: empty, and deleted (a probe goes on past it). Live keys are hash << 1 | dir, >= 0. */
const EMPTY = -1;
const DELETED = -2;

/** Slots to start with (a power of two). */
const INITIAL_SLOTS = 2048;

export class TupleIndex {
  /** By slot: hash << 1 | (1 for the reply tuple), or EMPTY / DELETED. */
  private keys = new Int32Array(INITIAL_SLOTS).fill(EMPTY);
  /** By slot: the entry of a live key. */
  private slots: (CtEntry | undefined)[] = new Array<CtEntry | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  /** Live keys (two per entry). */
  private live = 0;
  private deleted = 0;
  /** The direction of the tuple the last successful lookup found. */
  hitDir: CtDirection = 'ORIGINAL';
  /**
   * The entry the last lookup found, or the last one added, while it is in the index: a connection's
   * packets come one after another (the runtime walks SYN, SYN-ACK and ACK of one connection, later
   * its FIN, FIN-ACK and ACK), so most lookups ask for this entry again and find it by comparing its
   * two tuples, without hashing or probing. The answer is the table's: no tuple is in it twice, and
   * the reply tuple is compared first.
   */
  private recent: CtEntry | undefined = undefined;

  /** The entry with tuple `t` (hash: hashOfTuple(t)); its direction in `hitDir`. */
  get(t: Tuple, hash: number): CtEntry | undefined {
    const icmpType = t.icmpType ?? 0;
    const icmpCode = t.icmpCode ?? 0;
    const r = this.recentHit(t.family, t.proto, t.src, t.dst, t.sport, t.dport, icmpType, icmpCode);
    if (r !== undefined) return r;
    return this.probe(hash, t.family, t.proto, t.src, t.dst, t.sport, t.dport, icmpType, icmpCode);
  }

  /** The entry of the tuple of a packet as seen on the wire (tupleOf(p)), without building the tuple. */
  getPacket(p: Packet): CtEntry | undefined {
    if (isIcmpProto(p.proto)) {
      const type = p.icmp?.type ?? 0;
      const code = p.icmp?.code ?? 0;
      const id = p.icmp?.id ?? 0;
      const r = this.recentHit(p.family, p.proto, p.src, p.dst, id, 0, type, code);
      if (r !== undefined) return r;
      const h = tupleHash(p.family, p.proto, p.src, p.dst, id, ((type & 0xff) << 8) | (code & 0xff));
      return this.probe(h, p.family, p.proto, p.src, p.dst, id, 0, type, code);
    }
    const r = this.recentHit(p.family, p.proto, p.src, p.dst, p.sport, p.dport, 0, 0);
    if (r !== undefined) return r;
    const h = tupleHash(p.family, p.proto, p.src, p.dst, p.sport, p.dport);
    return this.probe(h, p.family, p.proto, p.src, p.dst, p.sport, p.dport, 0, 0);
  }

  /** The entry of invertTuple(t) for a TCP/UDP/SCTP tuple (addresses and ports swapped), without building it. */
  getInverse(t: Tuple): CtEntry | undefined {
    const r = this.recentHit(t.family, t.proto, t.dst, t.src, t.dport, t.sport, 0, 0);
    if (r !== undefined) return r;
    const h = tupleHash(t.family, t.proto, t.dst, t.src, t.dport, t.sport);
    return this.probe(h, t.family, t.proto, t.dst, t.src, t.dport, t.sport, 0, 0);
  }

  /** Index both tuples of `e` (whose origHash and replyHash are set). */
  add(e: CtEntry): void {
    if ((this.live + this.deleted + 2) * 2 > this.mask + 1) this.rebuild(this.live + 2);
    this.insert(e.replyHash, 1, e);
    this.insert(e.origHash, 0, e);
    this.live += 2;
    this.recent = e;
  }

  /** Take both tuples of `e` out (nothing happens for a tuple it has not in the index). */
  remove(e: CtEntry): void {
    this.unslot(e.origHash, 0, e);
    this.unslot(e.replyHash, 1, e);
    if (this.recent === e) this.recent = undefined;
  }

  /** Put a key in the first free slot of its probe sequence. */
  private insert(hash: number, dir: number, e: CtEntry): void {
    const keys = this.keys;
    let i = hash & this.mask;
    while (keys[i]! >= 0) i = (i + 1) & this.mask;
    if (keys[i] === DELETED) this.deleted--;
    keys[i] = (hash << 1) | dir;
    this.slots[i] = e;
  }

  private unslot(hash: number, dir: number, e: CtEntry): void {
    const keys = this.keys;
    const mask = this.mask;
    const key = (hash << 1) | dir;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === EMPTY) return;
      if (k !== key || this.slots[i] !== e) continue;
      this.slots[i] = undefined;
      this.live--;
      if (keys[(i + 1) & mask] !== EMPTY) {
        keys[i] = DELETED;
        this.deleted++;
        return;
      }
      // The slot ends its run: it and the deleted slots just before it become empty.
      keys[i] = EMPTY;
      for (let j = (i - 1) & mask; keys[j] === DELETED; j = (j - 1) & mask) {
        keys[j] = EMPTY;
        this.deleted--;
      }
      return;
    }
  }

  /** A fresh table for `need` live keys, at most a quarter full: every live key moves over. */
  private rebuild(need: number): void {
    let n = this.mask + 1;
    while (need * 4 > n) n *= 2;
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    this.keys = new Int32Array(n).fill(EMPTY);
    this.slots = new Array<CtEntry | undefined>(n).fill(undefined);
    this.mask = n - 1;
    this.deleted = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k >= 0) this.insert(k >>> 1, k & 1, oldSlots[i]!);
    }
  }

  /** `recent` when one of its tuples is the tuple given by parts (the reply tuple first); its direction in `hitDir`. */
  private recentHit(
    family: Family,
    proto: L4Proto,
    src: IP,
    dst: IP,
    sport: number,
    dport: number,
    icmpType: number,
    icmpCode: number,
  ): CtEntry | undefined {
    const e = this.recent;
    if (e === undefined) return undefined;
    if (sameTuple(e.reply, family, proto, src, dst, sport, dport, icmpType, icmpCode)) {
      this.hitDir = 'REPLY';
      return e;
    }
    if (sameTuple(e.original, family, proto, src, dst, sport, dport, icmpType, icmpCode)) {
      this.hitDir = 'ORIGINAL';
      return e;
    }
    return undefined;
  }

  private probe(
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
    const keys = this.keys;
    const mask = this.mask;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const k = keys[i]!;
      if (k === EMPTY) return undefined;
      // Only a key with the full hash loads its entry.
      if (k < 0 || k >>> 1 !== hash) continue;
      const e = this.slots[i]!;
      if (k & 1) {
        if (!sameTuple(e.reply, family, proto, src, dst, sport, dport, icmpType, icmpCode)) continue;
        this.hitDir = 'REPLY';
      } else {
        if (!sameTuple(e.original, family, proto, src, dst, sport, dport, icmpType, icmpCode)) continue;
        // A flow to itself: its two tuples are one, which is REPLY.
        this.hitDir =
          e.replyHash === hash &&
          sameTuple(e.reply, family, proto, src, dst, sport, dport, icmpType, icmpCode)
            ? 'REPLY'
            : 'ORIGINAL';
      }
      this.recent = e;
      return e;
    }
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
