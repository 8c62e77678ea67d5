/**
 * Chain names as kube-proxy's iptables proxier makes them: sha256 of the service port name string plus
 * the lower-case protocol (plus the endpoint `ip:port` for KUBE-SEP), encoded with RFC 4648 base32
 * (standard alphabet, padded), first 16 characters, after a prefix. The four per-service prefixes
 * share one hash. Names stay under iptables' 28-character limit.
 */
import * as crypto from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with padding (Go's base32.StdEncoding). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let buf = 0;
  let bits = 0;
  for (const b of bytes) {
    buf = (buf << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(buf >>> bits) & 31];
    }
    buf &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(buf << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

// crypto.hash (Node >= 20.12) skips the Hash object; fall back to createHash elsewhere.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;

/** First 10 bytes of a digest (80 bits) as 16 base32 characters: `base32(bytes.subarray(0, 10))`, no padding needed. */
function base32Of80(d: Uint8Array): string {
  let out = '';
  for (let i = 0; i < 10; i += 5) {
    // 40 bits in two halves of 20 (keeps the arithmetic in 32-bit integers).
    const hi = (d[i]! << 12) | (d[i + 1]! << 4) | (d[i + 2]! >>> 4);
    const lo = ((d[i + 2]! & 15) << 16) | (d[i + 3]! << 8) | d[i + 4]!;
    out +=
      ALPHABET[hi >>> 15]! +
      ALPHABET[(hi >>> 10) & 31]! +
      ALPHABET[(hi >>> 5) & 31]! +
      ALPHABET[hi & 31]! +
      ALPHABET[lo >>> 15]! +
      ALPHABET[(lo >>> 10) & 31]! +
      ALPHABET[(lo >>> 5) & 31]! +
      ALPHABET[lo & 31]!;
  }
  return out;
}

function computeChainHash(text: string): string {
  const digest = oneShot
    ? oneShot('sha256', text, 'buffer')
    : crypto.createHash('sha256').update(text).digest();
  return base32Of80(digest);
}

/**
 * Chain hashes already computed, keyed by the hashed text split in two: the service port part
 * (`svcPortName + protocol`) and the endpoint part (`ip:port`, or '' for the service chains), so a
 * service port's lookups share one outer key. kube-proxy computes a service port's and an endpoint's
 * chain names once, when the object is first seen, and keeps them across syncs; this is the same
 * saving without holding on to objects. Bounded: two generations of at most CACHE_GENERATION entries
 * each; a hit in the older one is promoted, and when the newer fills up the older is dropped, so
 * whatever a sync uses survives into the next sync (an approximate LRU with O(1) operations).
 */
const CACHE_GENERATION = 1 << 17;
let young = new Map<string, Map<string, string>>();
let old = new Map<string, Map<string, string>>();
let youngSize = 0;

/** `chainHash(head + tail)`, cached. */
export function chainHashOf(head: string, tail: string): string {
  let inner = young.get(head);
  let h = inner?.get(tail);
  if (h !== undefined) return h;
  h = old.get(head)?.get(tail) ?? computeChainHash(head + tail);
  if (youngSize >= CACHE_GENERATION) {
    old = young;
    young = new Map();
    youngSize = 0;
    inner = undefined;
  }
  if (inner === undefined) {
    inner = new Map();
    young.set(head, inner);
  }
  inner.set(tail, h);
  youngSize++;
  return h;
}

/** The 16-character hash kube-proxy puts after a chain prefix. */
export function chainHash(text: string): string {
  return chainHashOf(text, '');
}

/** Forget every cached chain hash (benchmarks use it to measure cold syncs). */
export function clearChainNameCache(): void {
  young = new Map();
  old = new Map();
  youngSize = 0;
}

export type ServiceChainPrefix = 'KUBE-SVC-' | 'KUBE-SVL-' | 'KUBE-EXT-' | 'KUBE-FW-';

/** `serviceChainName('KUBE-SVC-', 'ns1/svc1:p80', 'TCP')` -> `KUBE-SVC-XPGD46QRK7WJZT7O`. */
export function serviceChainName(prefix: ServiceChainPrefix, svcPortName: string, protocol: string): string {
  return prefix + chainHash(svcPortName + protocol.toLowerCase());
}

/** `endpointChainName('ns1/svc1:p80', 'TCP', '10.180.0.1:80')` -> `KUBE-SEP-SXIVWICOYRO3J4NJ`. */
export function endpointChainName(svcPortName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${chainHash(svcPortName + protocol.toLowerCase() + endpoint)}`;
}

const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-', 'KUBE-SEP-'];

/** A per-service or per-endpoint chain, the kind kube-proxy deletes when stale. */
export function isServiceChainName(chain: string): boolean {
  return SERVICE_CHAIN_PREFIXES.some((p) => chain.startsWith(p));
}

/**
 * kube-proxy's `fmt.Sprintf("%0.10f", 1.0/float64(n))`. Go rounds the exact binary value, ties to even;
 * toFixed rounds ties up. 1/n is only ever an exact tie when n is a power of two (n = 2048:
 * 0.00048828125), so those are done exactly.
 */
export function probability(n: number): string {
  if (n > 1 && Number.isInteger(n) && (n & (n - 1)) === 0) {
    const k = Math.log2(n);
    // 1/2^k = 5^k / 10^k exactly.
    const digits = (5n ** BigInt(k)).toString().padStart(k, '0');
    if (k <= 10) return `0.${digits.padEnd(10, '0')}`;
    let kept = BigInt(digits.slice(0, 10));
    const rest = digits.slice(10);
    const half = `5${'0'.repeat(rest.length - 1)}`;
    if (rest > half || (rest === half && kept % 2n === 1n)) kept += 1n;
    return `0.${kept.toString().padStart(10, '0')}`;
  }
  return (1 / n).toFixed(10);
}
