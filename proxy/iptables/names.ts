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

/** The 16-character hash kube-proxy puts after a chain prefix. */
export function chainHash(text: string): string {
  // Only the first 10 bytes (80 bits = 16 base32 characters) are ever used.
  const digest = oneShot
    ? oneShot('sha256', text, 'buffer')
    : crypto.createHash('sha256').update(text).digest();
  return base32(digest.subarray(0, 10));
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
