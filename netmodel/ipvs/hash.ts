/**
 * The hash functions IPVS schedulers use, restated from the kernel:
 *
 * - `hash32(v, bits)`: include/linux/hash.h `hash_32` (multiply by GOLDEN_RATIO_32 = 0x61C88647, keep
 *   the top `bits`), used by sh, dh and lblcr.
 * - `hsiphash4(v, k0, k1)`: lib/siphash.c `hsiphash` on a 64-bit kernel (SipHash-1-3 with a 128-bit
 *   key, output truncated to 32 bits) of the 4 bytes of a u32 in little-endian (x86-64) memory order,
 *   which is what ip_vs_mh_hashkey feeds it. 64-bit lanes are kept as pairs of uint32 (no BigInt: mh
 *   hashes once per scheduling decision).
 * - `addrFold(ip)`: the host-order u32 of an IPv4 address, or the XOR of the four 32-bit words of an
 *   IPv6 address (every IPVS hash key folds IPv6 that way).
 */
import type { IP } from '../addr.js';

export const GOLDEN_RATIO_32 = 0x61c88647;

/** hash_32(val, bits): (val * GOLDEN_RATIO_32) >> (32 - bits), in u32 arithmetic. */
export function hash32(v: number, bits: number): number {
  return Math.imul(v >>> 0, GOLDEN_RATIO_32) >>> (32 - bits);
}

/** ntohl(addr) for IPv4; the XOR of the four host-order words for IPv6. */
export function addrFold(ip: IP): number {
  if (ip.family === 4) return ip.n >>> 0;
  const b = ip.big;
  return (
    (Number((b >> 96n) & 0xffffffffn) ^
      Number((b >> 64n) & 0xffffffffn) ^
      Number((b >> 32n) & 0xffffffffn) ^
      Number(b & 0xffffffffn)) >>>
    0
  );
}

/** A 128-bit hsiphash key as two 64-bit words, each a hi/lo pair of uint32. */
export interface HsipKey {
  readonly k0h: number;
  readonly k0l: number;
  readonly k1h: number;
  readonly k1l: number;
}

/** `hsiphash_key_t` with both `unsigned long` words equal to a 32-bit constant (ip_vs_mh's keys). */
export function keyOf32(k: number): HsipKey {
  return { k0h: 0, k0l: k >>> 0, k1h: 0, k1l: k >>> 0 };
}

/**
 * hsiphash(data, len, key) of a 64-bit kernel for any byte string (SipHash-1-3, u32 result). The
 * general form, for the kernel's self-test vectors; schedulers call hsiphash4.
 */
export function hsiphash(data: Uint8Array, key: HsipKey): number {
  const len = data.length;
  const full = len - (len % 8);
  const words: number[] = [];
  for (let i = 0; i < full; i += 8) {
    words.push(
      (data[i + 4]! | (data[i + 5]! << 8) | (data[i + 6]! << 16) | (data[i + 7]! << 24)) >>> 0,
      (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) >>> 0,
    );
  }
  // b = len << 56 | the tail bytes, little-endian.
  let bl = 0;
  let bh = (len << 24) >>> 0;
  for (let j = 0; j < len - full; j++) {
    const byte = data[full + j]!;
    if (j < 4) bl = (bl | (byte << (8 * j))) >>> 0;
    else bh = (bh | (byte << (8 * (j - 4)))) >>> 0;
  }
  words.push(bh, bl);
  return sip13(key, words);
}

/** hsiphash(&v, 4, key) with v a u32 stored little-endian: ip_vs_mh_hashkey's call. */
export function hsiphash4(v: number, key: HsipKey): number {
  return sip13x4(key, v >>> 0);
}

/**
 * SipHash-1-3 over message words given as [hi, lo] pairs, the last pair being the final block b.
 * Lanes are local hi/lo uint32 variables (module-level state would box every store).
 */
function sip13(key: HsipKey, words: readonly number[]): number {
  let v0h = (0x736f6d65 ^ key.k0h) >>> 0;
  let v0l = (0x70736575 ^ key.k0l) >>> 0;
  let v1h = (0x646f7261 ^ key.k1h) >>> 0;
  let v1l = (0x6e646f6d ^ key.k1l) >>> 0;
  let v2h = (0x6c796765 ^ key.k0h) >>> 0;
  let v2l = (0x6e657261 ^ key.k0l) >>> 0;
  let v3h = (0x74656462 ^ key.k1h) >>> 0;
  let v3l = (0x79746573 ^ key.k1l) >>> 0;
  const n = words.length / 2;
  // Rounds: one per message word (the last word is b), then three after v2 ^= 0xff.
  for (let r = 0; r < n + 3; r++) {
    let mh = 0;
    let ml = 0;
    if (r < n) {
      mh = words[2 * r]!;
      ml = words[2 * r + 1]!;
      v3h = (v3h ^ mh) >>> 0;
      v3l = (v3l ^ ml) >>> 0;
    }
    let t: number;
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    t = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    v1l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (t ^ v0h) >>> 0;
    v1l = (v1l ^ v0l) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    t = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    v3l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (t ^ v2h) >>> 0;
    v3l = (v3l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    t = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (t < v0l ? 1 : 0)) >>> 0;
    v0l = t;
    t = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    v3l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (t ^ v0h) >>> 0;
    v3l = (v3l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    t = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (t < v2l ? 1 : 0)) >>> 0;
    v2l = t;
    t = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    v1l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (t ^ v2h) >>> 0;
    v1l = (v1l ^ v2l) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
    if (r < n) {
      v0h = (v0h ^ mh) >>> 0;
      v0l = (v0l ^ ml) >>> 0;
    }
    if (r === n - 1) v2l = (v2l ^ 0xff) >>> 0;
  }
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}

/** sip13 for a 4-byte input: the only block is b = (4 << 56) | v. */
function sip13x4(key: HsipKey, v: number): number {
  return sip13(key, [0x04000000, v]);
}
