/**
 * Addresses and prefixes, parsed once. IPv4 is held as an unsigned 32-bit number and IPv6 as a bigint,
 * so the datapath compares numbers, never strings. Text is parsed with ip-address and printed in
 * canonical form (dotted quad; RFC 5952 for IPv6).
 */
import { Address6 } from 'ip-address';
import { ErrorCodes, KpathError } from './errors.js';

export type Family = 4 | 6;

export interface IPv4 {
  readonly family: 4;
  /** The address as an unsigned 32-bit integer. */
  readonly n: number;
  readonly text: string;
}

export interface IPv6 {
  readonly family: 6;
  readonly big: bigint;
  readonly text: string;
}

export type IP = IPv4 | IPv6;

/** A network prefix. `ip` is the network address (host bits cleared). */
export interface Prefix {
  readonly ip: IP;
  readonly bits: number;
  readonly text: string;
}

const V6_MAX = (1n << 128n) - 1n;

export function v4(n: number): IPv4 {
  const u = n >>> 0;
  return { family: 4, n: u, text: `${u >>> 24}.${(u >>> 16) & 255}.${(u >>> 8) & 255}.${u & 255}` };
}

export function v6(big: bigint): IPv6 {
  const b = BigInt.asUintN(128, big);
  return { family: 6, big: b, text: Address6.fromBigInt(b).correctForm() };
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parse an address, or return undefined. `sloppy` accepts leading zeros in IPv4 octets as decimal
 * (Go's ParseIPSloppy, which kube-proxy uses for legacy values); the apiserver rejects them.
 */
export function tryParseIP(text: string, opts: { sloppy?: boolean } = {}): IP | undefined {
  const s = text.trim() === text ? text : opts.sloppy ? text.trim() : text;
  const m = DOTTED.exec(s);
  if (m) {
    let n = 0;
    for (let i = 1; i <= 4; i++) {
      const part = m[i]!;
      if (part.length > 1 && part.startsWith('0') && !opts.sloppy) return undefined;
      const o = Number(part);
      if (o > 255) return undefined;
      n = n * 256 + o;
    }
    return v4(n);
  }
  if (s.includes(':') && !s.includes('/') && !s.includes('%') && Address6.isValid(s)) {
    return v6(new Address6(s).bigInt());
  }
  return undefined;
}

export function parseIP(text: string, opts: { sloppy?: boolean } = {}): IP {
  const ip = tryParseIP(text, opts);
  if (!ip) {
    throw new KpathError(
      ErrorCodes.ADDRESS,
      `"${text}" is not a valid IP address (expected e.g. 10.96.0.10 or fd00::10)`,
    );
  }
  return ip;
}

export function maxBits(f: Family): number {
  return f === 4 ? 32 : 128;
}

function maskV4(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function maskV6(bits: number): bigint {
  return bits === 0 ? 0n : (V6_MAX << BigInt(128 - bits)) & V6_MAX;
}

/** The prefix of `bits` length that holds `ip`. */
export function prefixOf(ip: IP, bits: number): Prefix {
  if (ip.family === 4) {
    const net = v4((ip.n & maskV4(bits)) >>> 0);
    return { ip: net, bits, text: `${net.text}/${bits}` };
  }
  const net = v6(ip.big & maskV6(bits));
  return { ip: net, bits, text: `${net.text}/${bits}` };
}

/**
 * Parse `a.b.c.d/n` or `x::/n`. A bare address is a host prefix (/32 or /128). With `strict`, host
 * bits must be zero (the apiserver's rule for CIDR fields); otherwise they are cleared.
 */
export function tryParsePrefix(
  text: string,
  opts: { strict?: boolean; sloppy?: boolean } = {},
): Prefix | undefined {
  const s = opts.sloppy ? text.trim() : text;
  const slash = s.indexOf('/');
  const ipText = slash < 0 ? s : s.slice(0, slash);
  const ip = tryParseIP(ipText, opts);
  if (!ip) return undefined;
  let bits = maxBits(ip.family);
  if (slash >= 0) {
    const b = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(b)) return undefined;
    if (b.length > 1 && b.startsWith('0') && !opts.sloppy) return undefined;
    bits = Number(b);
    if (bits > maxBits(ip.family)) return undefined;
  }
  const p = prefixOf(ip, bits);
  if (opts.strict && !ipEquals(p.ip, ip)) return undefined;
  return p;
}

export function parsePrefix(text: string, opts: { strict?: boolean; sloppy?: boolean } = {}): Prefix {
  const p = tryParsePrefix(text, opts);
  if (!p) {
    throw new KpathError(
      ErrorCodes.ADDRESS,
      `"${text}" is not a valid CIDR (expected e.g. 10.244.0.0/16 or fd00:10:244::/56${opts.strict ? ', with host bits zero' : ''})`,
    );
  }
  return p;
}

export function ipEquals(a: IP, b: IP): boolean {
  if (a.family === 4) return b.family === 4 && a.n === b.n;
  return b.family === 6 && a.big === b.big;
}

/** Total order: IPv4 before IPv6, then numerically. */
export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.family === 4) return a.n - (b as IPv4).n;
  const d = a.big - (b as IPv6).big;
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

export function prefixContains(p: Prefix, ip: IP): boolean {
  if (p.ip.family === 4) {
    return ip.family === 4 && (ip.n & maskV4(p.bits)) >>> 0 === p.ip.n;
  }
  return ip.family === 6 && (ip.big & maskV6(p.bits)) === p.ip.big;
}

/** Does `outer` contain every address of `inner`? */
export function prefixCovers(outer: Prefix, inner: Prefix): boolean {
  return outer.ip.family === inner.ip.family && outer.bits <= inner.bits && prefixContains(outer, inner.ip);
}

export function prefixOverlaps(a: Prefix, b: Prefix): boolean {
  return prefixCovers(a, b) || prefixCovers(b, a);
}

/** Number of addresses in the prefix, as a bigint (IPv6 prefixes are large). */
export function prefixSize(p: Prefix): bigint {
  return 1n << BigInt(maxBits(p.ip.family) - p.bits);
}

/** The address `offset` places after the prefix's network address. */
export function prefixNth(p: Prefix, offset: bigint): IP {
  if (p.ip.family === 4) return v4(p.ip.n + Number(offset));
  return v6(p.ip.big + offset);
}

/** Offset of `ip` from the prefix's network address (caller checks containment). */
export function prefixOffset(p: Prefix, ip: IP): bigint {
  if (p.ip.family === 4 && ip.family === 4) return BigInt(ip.n - p.ip.n);
  if (p.ip.family === 6 && ip.family === 6) return ip.big - p.ip.big;
  throw new RangeError('prefixOffset: family mismatch');
}

/** The last address of the prefix (the IPv4 broadcast address). */
export function prefixLast(p: Prefix): IP {
  return prefixNth(p, prefixSize(p) - 1n);
}

/** `ip:port`, with brackets for IPv6 (Go's net.JoinHostPort). */
export function joinHostPort(ip: IP | string, port: number): string {
  const t = typeof ip === 'string' ? ip : ip.text;
  return t.includes(':') ? `[${t}]:${port}` : `${t}:${port}`;
}

/** Parse `ip:port` or `[v6]:port`. Port is required unless `defaultPort` is given. */
export function tryParseHostPort(text: string, defaultPort?: number): { ip: IP; port: number } | undefined {
  let host = text;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0) return undefined;
    host = text.slice(1, end);
    const rest = text.slice(end + 1);
    if (rest.startsWith(':')) portText = rest.slice(1);
    else if (rest !== '') return undefined;
  } else {
    const colons = text.split(':').length - 1;
    if (colons === 1) {
      const i = text.indexOf(':');
      host = text.slice(0, i);
      portText = text.slice(i + 1);
    }
  }
  const ip = tryParseIP(host);
  if (!ip) return undefined;
  let port = defaultPort;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return undefined;
    port = Number(portText);
  }
  if (port === undefined || port < 0 || port > 65535) return undefined;
  return { ip, port };
}

export function isLoopback(ip: IP): boolean {
  return ip.family === 4 ? ip.n >>> 24 === 127 : ip.big === 1n;
}

/** Validate an IPv4 address text the way the apiserver does (no leading zeros), for messages. */
export function isCanonicalIPText(text: string): boolean {
  const ip = tryParseIP(text);
  return ip !== undefined && ip.text === text;
}
