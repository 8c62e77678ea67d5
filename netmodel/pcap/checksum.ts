/**
 * The checksums frames carry: the Internet checksum (RFC 1071) of IPv4, ICMP, TCP and UDP, with
 * the pseudo-headers of RFC 793/768 (IPv4) and RFC 8200 section 8.1 (IPv6), and CRC32c (RFC 9260
 * appendix B, the Castagnoli polynomial, reflected) for SCTP.
 */

/** One's-complement sum of 16-bit big-endian words, not yet folded or inverted. */
export function onesSum(data: Uint8Array, start = 0): number {
  let sum = start;
  const n = data.length & ~1;
  for (let i = 0; i < n; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (data.length & 1) sum += data[data.length - 1]! << 8;
  return sum;
}

/** Fold a sum to 16 bits and invert it: the value that goes into the header. */
export function finishChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

export function internetChecksum(data: Uint8Array): number {
  return finishChecksum(onesSum(data));
}

/** The pseudo-header sum for a TCP/UDP/ICMPv6 checksum: addresses, protocol and L4 length. */
export function pseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = onesSum(src) + onesSum(dst) + protocol;
  if (src.length === 16) sum += Math.floor(length / 0x10000) + (length & 0xffff);
  else sum += length;
  return sum;
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC32C_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
