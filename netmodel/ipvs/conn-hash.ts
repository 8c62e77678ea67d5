/**
 * Where a connection entry sits in the kernel's connection hash table (ip_vs_conn.c), which is the
 * order `ipvsadm -Lnc` prints: ipvsadm prints /proc/net/ip_vs_conn line by line, and the kernel
 * writes that file walking ip_vs_conn_tab bucket by bucket, each bucket's list from its newest entry
 * (ip_vs_conn_hash links a new entry at the head, hlist_add_head_rcu).
 *
 * The bucket is ip_vs_conn_hashkey over the protocol and the client address and port (a template:
 * its client network and port 0): jhash_3words(addr, port, proto, ip_vs_conn_rnd), XORed with the
 * netns_ipvs pointer shifted right by 8, masked to the table size (4096). Both the random
 * ip_vs_conn_rnd (get_random_bytes at module load) and the pointer differ on every boot, so the
 * order is fixed for a node but unknowable from outside: kpath draws both from a seeded Rng, so runs
 * repeat. Address and port go in as the kernel reads them, network byte order loaded as a
 * little-endian (x86-64) u32; an IPv6 address is first folded by jhash(addr, 16, rnd).
 *
 * jhash and jhash_3words restate include/linux/jhash.h (Bob Jenkins' lookup3).
 */
import type { IP } from '../addr.js';
import type { IpvsProtocol } from './types.js';

const JHASH_INITVAL = 0xdeadbeef;

function rol(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** __jhash_final: the last mix of (a, b, c) into c. */
function final(a0: number, b0: number, c0: number): number {
  let a = a0 >>> 0;
  let b = b0 >>> 0;
  let c = c0 >>> 0;
  c = ((c ^ b) - rol(b, 14)) >>> 0;
  a = ((a ^ c) - rol(c, 11)) >>> 0;
  b = ((b ^ a) - rol(a, 25)) >>> 0;
  c = ((c ^ b) - rol(b, 16)) >>> 0;
  a = ((a ^ c) - rol(c, 4)) >>> 0;
  b = ((b ^ a) - rol(a, 14)) >>> 0;
  c = ((c ^ b) - rol(b, 24)) >>> 0;
  return c;
}

/** jhash(key, length, initval): the byte-key hash, words read little-endian. */
export function jhash(key: Uint8Array, initval: number): number {
  let length = key.length;
  let a = (JHASH_INITVAL + length + initval) >>> 0;
  let b = a;
  let c = a;
  let k = 0;
  const u32 = (i: number) => (key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24)) >>> 0;
  while (length > 12) {
    a = (a + u32(k)) >>> 0;
    b = (b + u32(k + 4)) >>> 0;
    c = (c + u32(k + 8)) >>> 0;
    // __jhash_mix
    a = ((a - c) ^ rol(c, 4)) >>> 0;
    c = (c + b) >>> 0;
    b = ((b - a) ^ rol(a, 6)) >>> 0;
    a = (a + c) >>> 0;
    c = ((c - b) ^ rol(b, 8)) >>> 0;
    b = (b + a) >>> 0;
    a = ((a - c) ^ rol(c, 16)) >>> 0;
    c = (c + b) >>> 0;
    b = ((b - a) ^ rol(a, 19)) >>> 0;
    a = (a + c) >>> 0;
    c = ((c - b) ^ rol(b, 4)) >>> 0;
    b = (b + a) >>> 0;
    length -= 12;
    k += 12;
  }
  if (length === 0) return c;
  // The tail: bytes 0-3 into a, 4-7 into b, 8-11 into c, each little-endian.
  const tail = [0, 0, 0];
  for (let i = 0; i < length; i++) tail[i >> 2] = (tail[i >> 2]! + (key[k + i]! << ((i & 3) * 8))) >>> 0;
  return final(a + tail[0]!, b + tail[1]!, c + tail[2]!);
}

/** jhash_3words(a, b, c, initval). */
export function jhash3(a: number, b: number, c: number, initval: number): number {
  const iv = (initval + JHASH_INITVAL + (3 << 2)) >>> 0;
  return final(a + iv, b + iv, c + iv);
}

/** A u32 in network byte order, loaded by a little-endian CPU. */
function be32(n: number): number {
  return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
}

function be16(n: number): number {
  return ((n & 0xff) << 8) | ((n >>> 8) & 0xff);
}

function protoNumber(p: IpvsProtocol): number {
  return p === 'TCP' ? 6 : p === 'UDP' ? 17 : 132;
}

/** The two per-boot values the bucket depends on. */
export interface ConnHashKeys {
  /** ip_vs_conn_rnd. */
  readonly rnd: number;
  /** (size_t)ipvs >> 8, as far as the mask keeps it. */
  readonly netns: number;
}

/** ip_vs_conn_hashkey: the bucket of a connection with this client side. */
export function connBucket(
  keys: ConnHashKeys,
  protocol: IpvsProtocol,
  caddr: IP,
  cport: number,
  tabSize: number,
): number {
  let a: number;
  if (caddr.family === 4) a = be32(caddr.n >>> 0);
  else {
    const bytes = new Uint8Array(16);
    let v = caddr.big;
    for (let i = 15; i >= 0; i--) {
      bytes[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    a = jhash(bytes, keys.rnd);
  }
  const h = jhash3(a, be16(cport), protoNumber(protocol), keys.rnd);
  return ((h ^ keys.netns) & (tabSize - 1)) >>> 0;
}
