// The kernel's hash functions against the kernel's own vectors.
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { addrFold, hash32, hsiphash, hsiphash4 } from '../../netmodel/ipvs/index.js';

// lib/test_siphash.c: key bytes 00..0f, i.e. k0 = 0x0706050403020100, k1 = 0x0f0e0d0c0b0a0908
// (little-endian words); input bytes 00..n-1; the 64-bit (SipHash-1-3) hsiphash vectors.
const KEY = { k0h: 0x07060504, k0l: 0x03020100, k1h: 0x0f0e0d0c, k1l: 0x0b0a0908 };
const VECTORS: [number, number][] = [
  [0, 0x050fc4dc],
  [1, 0x7d57ca93],
  [2, 0x4dc7d44d],
  [3, 0xe7ddf7fb],
  [4, 0x88d38328],
  [8, 0x8d299a8e],
];

describe('hsiphash (lib/siphash.c, 64-bit)', () => {
  it.each(VECTORS)('matches test_siphash.c for %i input bytes', (n, want) => {
    const data = Uint8Array.from({ length: n }, (_, i) => i);
    expect(hsiphash(data, KEY)).toBe(want);
  });

  it('hsiphash4 is hsiphash of the u32 stored little-endian', () => {
    // bytes 00 01 02 03 as a little-endian u32 = 0x03020100
    expect(hsiphash4(0x03020100, KEY)).toBe(0x88d38328);
  });
});

describe('hash_32 (include/linux/hash.h)', () => {
  it('keeps the top bits of val * 0x61C88647', () => {
    // 10.244.1.5 = 0x0AF40105; 0x0AF40105 * 0x61C88647 mod 2^32 = 0x731CE663; top 8 bits 0x73 = 115.
    expect(hash32(addrFold(parseIP('10.244.1.5')), 8)).toBe(115);
    // 10.0.0.1 = 0x0A000001; * 0x61C88647 = 0x27C88647 (mod 2^32); top byte 0x27 = 39.
    expect(hash32(addrFold(parseIP('10.0.0.1')), 8)).toBe(39);
  });

  it('folds IPv6 by XOR of the four host-order words', () => {
    // fd00::1:2 -> 0xfd000000 ^ 0 ^ 0 ^ 0x00010002
    expect(addrFold(parseIP('fd00::1:2'))).toBe((0xfd000000 ^ 0x00010002) >>> 0);
  });
});
