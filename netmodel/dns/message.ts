/**
 * DNS messages as plain data. Names are presentation text without the trailing dot (`''` is the root),
 * with `\.` and `\DDD` escapes for bytes that are not plain label characters, as dig prints them.
 */
import { Flag, RRType } from './wire-constants.js';

export type RData =
  | { readonly kind: 'address'; readonly ip: string }
  | { readonly kind: 'name'; readonly target: string }
  | {
      readonly kind: 'soa';
      readonly mname: string;
      readonly rname: string;
      readonly serial: number;
      readonly refresh: number;
      readonly retry: number;
      readonly expire: number;
      readonly minimum: number;
    }
  | {
      readonly kind: 'srv';
      readonly priority: number;
      readonly weight: number;
      readonly port: number;
      readonly target: string;
    }
  | { readonly kind: 'mx'; readonly preference: number; readonly exchange: string }
  | { readonly kind: 'txt'; readonly texts: readonly string[] }
  | { readonly kind: 'raw'; readonly bytes: Uint8Array };

export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  /** The class; for OPT, the sender's UDP payload size. */
  readonly class: number;
  /** The TTL; for OPT, extended rcode (8 bits), version (8), DO and flags (16). */
  readonly ttl: number;
  readonly data: RData;
}

export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

export interface Message {
  readonly id: number;
  /** The 16-bit flags word: QR, opcode, AA, TC, RD, RA, Z, AD, CD and the low 4 rcode bits. */
  readonly flags: number;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authority: readonly ResourceRecord[];
  readonly additional: readonly ResourceRecord[];
}

export function opcodeOf(flags: number): number {
  return (flags >>> 11) & 0xf;
}

export function hasFlag(flags: number, f: number): boolean {
  return (flags & f) !== 0;
}

/** The full rcode of a message: the header's 4 bits plus the OPT's extended bits. */
export function rcodeOf(m: Message): number {
  const opt = m.additional.find((r) => r.type === RRType.OPT);
  return (m.flags & 0xf) | (opt ? ((opt.ttl >>> 24) & 0xff) << 4 : 0);
}

export function isResponse(m: Message): boolean {
  return hasFlag(m.flags, Flag.QR);
}

/** Split presentation text into raw labels (escapes resolved). Throws RangeError on bad text. */
export function nameToLabels(name: string): Uint8Array[] {
  if (name === '' || name === '.') return [];
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      labels.push(Uint8Array.from(cur));
      cur = [];
    } else if (c === 0x5c) {
      const d = text.slice(i + 1, i + 4);
      if (/^\d{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new RangeError(`bad escape \\${d} in ${name}`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(i + 1) & 0xff);
        i += 1;
      } else {
        throw new RangeError(`trailing backslash in ${name}`);
      }
    } else {
      if (c > 0xff) throw new RangeError(`non-ASCII character in ${name}`);
      cur.push(c);
    }
  }
  labels.push(Uint8Array.from(cur));
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) throw new RangeError(`bad label length in "${name}"`);
  }
  return labels;
}

/** One raw label as presentation text. */
export function labelToText(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (
      b === 0x2e ||
      b === 0x5c ||
      b === 0x22 ||
      b === 0x28 ||
      b === 0x29 ||
      b === 0x3b ||
      b === 0x40 ||
      b === 0x24
    ) {
      s += `\\${String.fromCharCode(b)}`;
    } else if (b < 0x21 || b > 0x7e) {
      s += `\\${String(b).padStart(3, '0')}`;
    } else {
      s += String.fromCharCode(b);
    }
  }
  return s;
}

/** Lower-case ASCII letters only (DNS case-insensitivity, RFC 4343). */
export function lowerName(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** Is `name` equal to `zone` or below it (both presentation text, any case)? */
export function isSubdomain(name: string, zone: string): boolean {
  const n = lowerName(name);
  const z = lowerName(zone);
  if (z === '') return true;
  return n === z || n.endsWith(`.${z}`);
}

/** `name` with a trailing dot, as dig and zone files show absolute names. */
export function fqdn(name: string): string {
  return name === '' ? '.' : `${name}.`;
}
