/**
 * Deterministic hashes for names and identifiers. Kubernetes derives pod-template-hash with 32-bit
 * FNV-1a and encodes names with its "safe" alphabet (no vowels, no 0/1/3); kpath does the same over a
 * canonical JSON of the template, so names have Kubernetes' shape and are identical for identical input.
 */

/** The alphabet of k8s.io/apimachinery/pkg/util/rand (no vowels, no confusable digits). */
export const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    // UTF-16 code units folded to bytes; identical to UTF-8 for ASCII, deterministic otherwise.
    if (c > 0xff) {
      h = Math.imul(h ^ (c >>> 8), 0x01000193) >>> 0;
      c &= 0xff;
    }
    h = Math.imul(h ^ c, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * FNV-1a with MurmurHash3's 32-bit finalizer (fmix32), so that names differing only in their last
 * characters (web-0, web-1; worker-1, worker-2) spread over all 32 bits: for hash placement.
 */
export function mix32(text: string): number {
  let h = fnv1a32(text);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** rand.SafeEncodeString: each byte of the text mapped into the safe alphabet. */
export function safeEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += SAFE_ALPHABET[text.charCodeAt(i) % SAFE_ALPHABET.length];
  return out;
}

/** pod-template-hash: SafeEncodeString(decimal(fnv32a(template))). */
export function podTemplateHash(template: unknown, collisionCount = 0): string {
  let h = fnv1a32(canonicalJson(template));
  if (collisionCount > 0) h = fnv1a32(`${h}/${collisionCount}`);
  return safeEncode(String(h));
}

/** A deterministic stand-in for utilrand.String(n): n characters of the safe alphabet. */
export function randomSuffix(seed: string, n = 5): string {
  let out = '';
  let h = fnv1a32(seed);
  for (let i = 0; i < n; i++) {
    h = fnv1a32(`${h}:${seed}:${i}`);
    out += SAFE_ALPHABET[h % SAFE_ALPHABET.length];
  }
  return out;
}

/** A UUID-shaped identifier derived from a key (version nibble 4 for looks; not random). */
export function uidFor(key: string): string {
  const parts: string[] = [];
  for (let i = 0; i < 4; i++) parts.push(fnv1a32(`${i}|${key}`).toString(16).padStart(8, '0'));
  const hex = parts.join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${((Number.parseInt(hex[16]!, 16) & 3) | 8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** JSON with object keys sorted, so equal values hash equally whatever the key order in the YAML. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v as object).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}
