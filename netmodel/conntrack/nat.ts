/**
 * NAT bindings on a conntrack entry (nf_nat_core.c): choosing the translated tuple once, for the first
 * packet, and rewriting later packets of both directions from the entry alone.
 */
import type { IP } from '../addr.js';
import { compareIP, ipEquals, v4, v6 } from '../addr.js';
import type { Packet } from '../packet.js';
import { withDestination, withFields, withSource } from '../packet.js';
import type { Rng } from '../rng.js';
import type { ConntrackEntryView } from './entry.js';
import type { CtDirection } from './status.js';
import { CtStatus } from './status.js';
import type { Tuple } from './tuple.js';
import { icmpIsError, invertTuple, isIcmp } from './tuple.js';

/** Source manips happen at POSTROUTING/INPUT, destination manips at PREROUTING/OUTPUT. */
export type NatManip = 'SRC' | 'DST';

/**
 * struct nf_nat_range2 as SNAT/DNAT/MASQUERADE build it. No address means "keep the address" (a
 * port-only mapping, or a null binding). Ports given = NF_NAT_RANGE_PROTO_SPECIFIED.
 */
export interface NatRange {
  readonly minAddr?: IP;
  readonly maxAddr?: IP;
  readonly minPort?: number;
  readonly maxPort?: number;
  /** --random: NF_NAT_RANGE_PROTO_RANDOM. */
  readonly random?: boolean;
  /** --random-fully: NF_NAT_RANGE_PROTO_RANDOM_FULLY. */
  readonly randomFully?: boolean;
  /** --persistent: the same client gets the same address from a range regardless of destination. */
  readonly persistent?: boolean;
}

/** NF_NAT_RANGE_PROTO_RANDOM_ALL: --random or --random-fully. */
export function randomAll(r: NatRange): boolean {
  return r.random === true || r.randomFully === true;
}

function protoSpecified(r: NatRange): boolean {
  return r.minPort !== undefined;
}

/** The range's ports, low end (no array per call: the DNAT of every new connection asks). */
function portLo(r: NatRange): number {
  const a = r.minPort ?? 0;
  const b = r.maxPort ?? a;
  return a <= b ? a : b;
}

function portHi(r: NatRange): number {
  const a = r.minPort ?? 0;
  const b = r.maxPort ?? a;
  return a <= b ? b : a;
}

/** The manipulated half of a tuple: source for SRC, destination for DST. */
function manipAddr(t: Tuple, m: NatManip): IP {
  return m === 'SRC' ? t.src : t.dst;
}

function manipKey(t: Tuple, m: NatManip): number {
  if (isIcmp(t.proto)) return t.sport;
  return m === 'SRC' ? t.sport : t.dport;
}

/** A tuple whose ports uniqueL4 rewrites in place. */
type MutableTuple = { -readonly [K in keyof Tuple]: Tuple[K] };

function withManip(t: Tuple, m: NatManip, addr: IP, key: number): MutableTuple {
  if (isIcmp(t.proto)) return m === 'SRC' ? { ...t, src: addr, sport: key } : { ...t, dst: addr, sport: key };
  // Literals, not spreads: the port search makes one per candidate.
  return m === 'SRC'
    ? { family: t.family, proto: t.proto, src: addr, dst: t.dst, sport: key, dport: t.dport }
    : { family: t.family, proto: t.proto, src: t.src, dst: addr, sport: t.sport, dport: key };
}

function addrInRange(ip: IP, r: NatRange): boolean {
  if (!r.minAddr) return true;
  const max = r.maxAddr ?? r.minAddr;
  return ip.family === r.minAddr.family && compareIP(ip, r.minAddr) >= 0 && compareIP(ip, max) <= 0;
}

/** in_range(): the tuple's manip part already lies in the range. */
export function tupleInRange(t: Tuple, m: NatManip, r: NatRange): boolean {
  if (!addrInRange(manipAddr(t, m), r)) return false;
  if (!protoSpecified(r)) return true;
  const lo = portLo(r);
  const hi = portHi(r);
  const k = manipKey(t, m);
  return k >= lo && k <= hi;
}

/**
 * find_best_ips_proto: the address from the range. The kernel hashes the addresses with jhash so one
 * client keeps one address; kpath uses a simple deterministic hash with the same inputs (source, plus
 * the destination unless --persistent). Only the spread differs.
 */
function pickAddress(t: Tuple, m: NatManip, r: NatRange): IP {
  if (!r.minAddr) return manipAddr(t, m);
  const max = r.maxAddr ?? r.minAddr;
  if (ipEquals(r.minAddr, max)) return r.minAddr;
  const low = (ip: IP) => (ip.family === 4 ? ip.n : Number(ip.big & 0xffffffffn));
  let h = Math.imul(low(t.src) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  if (!r.persistent) h = Math.imul(h ^ low(t.dst), 0xc2b2ae35) >>> 0;
  if (r.minAddr.family === 4 && max.family === 4) {
    const size = max.n - r.minAddr.n + 1;
    return v4(r.minAddr.n + (h % size));
  }
  const lo = (r.minAddr as { big: bigint }).big;
  const size = (max as { big: bigint }).big - lo + 1n;
  return v6(lo + (BigInt(h) % size));
}

/**
 * Whether a candidate original-direction tuple is taken by another entry (nf_nat_used_tuple).
 * `attemptsLeft` is passed only from the port search's loop (attempts - i, as Linux 6.5+ calls
 * nf_nat_used_tuple_harder): when it is at most NF_NAT_HARDER_THRESH the table may evict a closing
 * TCP entry that holds the candidate and report the candidate free (table.ts).
 */
export type TupleTaken = (candidate: Tuple, attemptsLeft?: number) => boolean;

/** NF_NAT_MAX_ATTEMPTS: the port search's first window. */
export const NF_NAT_MAX_ATTEMPTS = 128;
/** NF_NAT_HARDER_THRESH: the last attempts of a window that may evict a closing entry. */
export const NF_NAT_HARDER_THRESH = NF_NAT_MAX_ATTEMPTS / 4;

/**
 * nf_nat_l4proto_unique_tuple: move the port (or ICMP id) inside the range until the tuple is free.
 * Tries min(range, 128) keys from an offset, then halves the window with a fresh offset while it is
 * at least 16. The offset is random for source manips and --random/--random-fully, 0 for a plain
 * DNAT port range (sequential from the low end). Since Linux 6.5 the last NF_NAT_HARDER_THRESH
 * attempts of each window may evict a closing TCP entry holding the candidate (`taken` is told how
 * many attempts are left). Gives up with the last candidate, which then fails to confirm, as in the
 * kernel.
 */
function uniqueL4(t: Tuple, m: NatManip, r: NatRange, taken: TupleTaken, rng: Rng): Tuple {
  let min: number;
  let size: number;
  const addr = manipAddr(t, m);
  if (isIcmp(t.proto)) {
    if (protoSpecified(r)) {
      const lo = portLo(r);
      const hi = portHi(r);
      min = lo;
      size = hi - lo + 1;
    } else {
      min = 0;
      size = 65536;
    }
  } else if (t.proto === 'tcp' || t.proto === 'udp' || t.proto === 'sctp') {
    if (!protoSpecified(r)) {
      if (m === 'DST') return t;
      const k = manipKey(t, m);
      if (k < 1024) {
        if (k < 512) {
          min = 1;
          size = 511;
        } else {
          min = 600;
          size = 1023 - 600 + 1;
        }
      } else {
        min = 1024;
        size = 65535 - 1024 + 1;
      }
    } else {
      const lo = portLo(r);
      const hi = portHi(r);
      min = lo;
      size = hi - lo + 1;
    }
  } else {
    return t;
  }
  let off = randomAll(r) || m !== 'DST' ? rng.uint32() & 0xffff : 0;
  let attempts = Math.min(size, NF_NAT_MAX_ATTEMPTS);
  // One candidate object for the whole search, its port rewritten per attempt (`taken` reads it and
  // keeps nothing); the one returned is no longer written. ICMP candidates are built one by one.
  const scratch: MutableTuple | undefined = isIcmp(t.proto) ? undefined : withManip(t, m, addr, 0);
  let candidate = t;
  for (;;) {
    for (let i = 0; i < attempts; i++, off = (off + 1) & 0xffff) {
      const key = min + (off % size);
      if (scratch === undefined) candidate = withManip(t, m, addr, key);
      else {
        if (m === 'SRC') scratch.sport = key;
        else scratch.dport = key;
        candidate = scratch;
      }
      if (!taken(candidate, attempts - i)) return candidate;
    }
    if (attempts >= size || attempts < 16) return candidate;
    attempts = attempts >> 1;
    off = rng.uint32() & 0xffff;
  }
}

/**
 * get_unique_tuple. `current` is the original-direction tuple as the entry stands (the inverse of
 * its reply tuple); `sameSource` is the mapping an existing flow from the same source address and
 * port already has (find_appropriate_src), if any. Returns the new original-direction tuple.
 */
export function chooseNatTuple(
  current: Tuple,
  m: NatManip,
  r: NatRange,
  taken: TupleTaken,
  rng: Rng,
  sameSource?: Tuple,
): Tuple {
  if (m === 'SRC' && !randomAll(r)) {
    if (tupleInRange(current, m, r)) {
      if (!taken(current)) return current;
    } else if (sameSource && tupleInRange(sameSource, m, r) && !taken(sameSource)) {
      return sameSource;
    }
  }
  const base = withManip(current, m, pickAddress(current, m, r), manipKey(current, m));
  if (!randomAll(r)) {
    if (protoSpecified(r)) {
      const lo = portLo(r);
      const hi = portHi(r);
      const k = manipKey(base, m);
      if (k >= lo && k <= hi && (lo === hi || !taken(base))) return base;
    } else if (!taken(base)) {
      return base;
    }
  }
  return uniqueL4(base, m, r, taken, rng);
}

/** The source-manip candidate an existing SNAT'd flow from the same source gives a new tuple. */
export function sameSourceCandidate(existingReply: Tuple, current: Tuple): Tuple {
  // The existing flow's source after SNAT is its reply tuple's destination.
  return isIcmp(current.proto)
    ? { ...current, src: existingReply.dst, sport: existingReply.sport }
    : { ...current, src: existingReply.dst, sport: existingReply.dport };
}

/**
 * nf_nat_packet for one hook: rewrite the source (SRC manip) or destination (DST manip) of a packet
 * of the entry, if the entry's binding says so for this direction. Packets are never mutated, unless
 * `owned` says the caller made `p` and nothing else holds it (packet.ts): then a TCP/UDP packet's
 * address and port are written into it.
 */
export function natPacket(
  entry: ConntrackEntryView,
  dir: CtDirection,
  p: Packet,
  manip: NatManip,
  owned = false,
): Packet {
  let bit: number = manip === 'SRC' ? CtStatus.SRC_NAT : CtStatus.DST_NAT;
  if (dir === 'REPLY') bit ^= CtStatus.SRC_NAT | CtStatus.DST_NAT;
  if ((entry.status & bit) === 0) return p;
  const other = dir === 'ORIGINAL' ? entry.reply : entry.original;
  if (!isIcmp(other.proto) && !isIcmp(p.proto)) {
    // invertTuple(other) without building it: the target is `other` with the ends swapped.
    return manip === 'SRC'
      ? withSource(p, other.dst, other.dport, owned)
      : withDestination(p, other.src, other.sport, owned);
  }
  const target = invertTuple(other);
  if (!target) return p;
  if (isIcmp(p.proto)) {
    // ICMP errors (RELATED) get their addresses rewritten; only queries carry an id to map.
    const query = p.icmp !== undefined && !icmpIsError(p.proto, p.icmp.type);
    const icmp = query && p.icmp ? { ...p.icmp, id: target.sport } : undefined;
    const addr = manip === 'SRC' ? { src: target.src } : { dst: target.dst };
    return withFields(p, { ...addr, ...(icmp ? { icmp } : {}) });
  }
  return manip === 'SRC'
    ? withSource(p, target.src, target.sport)
    : withDestination(p, target.dst, target.dport);
}

/**
 * Both manips: the packet as it leaves the node. Original direction: DNAT on the destination, SNAT
 * on the source; reply direction: the inverse (un-DNAT the source, un-SNAT the destination).
 */
export function translate(entry: ConntrackEntryView, dir: CtDirection, p: Packet): Packet {
  return natPacket(entry, dir, natPacket(entry, dir, p, 'DST'), 'SRC');
}

/** `--ctstate SNAT`: the original source differs from the reply destination. */
export function isSnat(e: ConntrackEntryView): boolean {
  return (
    !ipEquals(e.original.src, e.reply.dst) ||
    (!isIcmp(e.original.proto) && e.original.sport !== e.reply.dport)
  );
}

/** `--ctstate DNAT`: the original destination differs from the reply source. */
export function isDnat(e: ConntrackEntryView): boolean {
  return (
    !ipEquals(e.original.dst, e.reply.src) ||
    (!isIcmp(e.original.proto) && e.original.dport !== e.reply.sport)
  );
}
