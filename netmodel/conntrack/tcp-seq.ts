/**
 * The originator's TCP sequence numbers, as far as SNAT port reuse needs them. kpath packets carry
 * flags, not sequence numbers, so the entry's `seen[0].td_end` (the end of the highest segment the
 * originator sent) is derived the way the originator's kernel picks its initial sequence number:
 * secure_tcp_seq() = siphash(saddr, daddr, sport, dport; net_secret) + (ktime_get_real_ns() >> 6).
 *
 * Modelled: the keyed hash is a 32-bit mix of the four fields with a per-table secret (one secret
 * for every originator the table sees, where real originators on other hosts have their own: the
 * spread between distinct tuples is what matters, and it is as unpredictable); the clock part is the
 * entry's creation time (ms) in units of 64 ns, mod 2^32. td_end = ISN + 1 for the SYN, + 1 for the
 * originator's FIN once it has sent one. Payload bytes are not counted (kpath does not track them);
 * they shift td_end by a few thousand at most against a 2^32 spread.
 */
import type { IP } from '../addr.js';
import type { TcpState } from './tcp.js';
import type { Tuple } from './tuple.js';

/** What td_end is derived from (a CtEntry has these fields). */
export interface SeqSource {
  readonly original: Tuple;
  readonly createdAt: number;
  readonly tcpState: TcpState | undefined;
  /** The originator sent the first FIN (IP_CT_TCP_FLAG_CLOSE_INIT). */
  readonly closeInitOriginal: boolean;
}

const TWO32 = 4294967296;

function mix(h: number, k: number): number {
  let x = Math.imul(k >>> 0, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, 0x1b873593);
  h ^= x;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function mixAddr(h: number, ip: IP): number {
  if (ip.family === 4) return mix(h, ip.n);
  let b = ip.big;
  for (let i = 0; i < 4; i++) {
    h = mix(h, Number(b & 0xffffffffn));
    b >>= 32n;
  }
  return h;
}

/** The keyed-hash part of secure_tcp_seq for the originator's 4-tuple. */
export function isnHash(t: Tuple, secret: number): number {
  let h = secret | 0;
  h = mixAddr(h, t.src);
  h = mixAddr(h, t.dst);
  h = mix(h, ((t.sport & 0xffff) << 16) | (t.dport & 0xffff));
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** ktime_get_real_ns() >> 6 for a time in ms, mod 2^32 (1 ms = 15625 units of 64 ns). */
export function isnClock(ms: number): number {
  const t = Math.floor(ms);
  const lo = ((t % TWO32) + TWO32) % TWO32;
  return (lo * 15625) % TWO32;
}

/** The originator's initial sequence number for a connection opened at `ms`. */
export function initialSeq(t: Tuple, ms: number, secret: number): number {
  return (isnHash(t, secret) + isnClock(ms)) % TWO32;
}

/** seen[0].td_end of an entry: ISN + 1 (SYN) + 1 once the originator has sent its FIN. */
export function originatorSeqEnd(e: SeqSource, secret: number): number {
  const st = e.tcpState;
  const finSent = e.closeInitOriginal || st === 'TIME_WAIT' || st === 'LAST_ACK';
  return (initialSeq(e.original, e.createdAt, secret) + 1 + (finSent ? 1 : 0)) % TWO32;
}

/** nf_seq_has_advanced: (s32)(new td_end - old td_end) > 0. */
export function seqHasAdvanced(oldEnd: number, newEnd: number): boolean {
  return ((newEnd - oldEnd) | 0) > 0;
}
