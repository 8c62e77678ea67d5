/**
 * Decoding wire-format messages, strictly: every malformation is a DnsFormatError carrying what was
 * read before it (the header, and the question when it parsed), so a server can answer FORMERR as
 * miekg/dns does. Never throws anything else for any input.
 */
import { v4, v6 } from '../addr.js';
import type { Message, Question, RData, ResourceRecord } from './message.js';
import { labelToText } from './message.js';
import { HEADER_LEN, RRType } from './wire-constants.js';

export class DnsFormatError extends Error {
  constructor(
    message: string,
    readonly partial: { id: number; flags: number; question?: Question },
  ) {
    super(message);
    this.name = 'DnsFormatError';
  }
}

interface Cursor {
  readonly buf: Uint8Array;
  off: number;
}

function fail(what: string): never {
  throw new RangeError(what);
}

function u16(c: Cursor): number {
  if (c.off + 2 > c.buf.length) fail('truncated');
  const v = (c.buf[c.off]! << 8) | c.buf[c.off + 1]!;
  c.off += 2;
  return v;
}

function u32(c: Cursor): number {
  const hi = u16(c);
  return hi * 0x10000 + u16(c);
}

/**
 * Read a (possibly compressed) name at c.off. Pointers must point strictly backwards, which also rules
 * out loops; the expanded name must fit 255 octets.
 */
export function readName(c: Cursor): string {
  const buf = c.buf;
  let off = c.off;
  let jumped = false;
  let wireLen = 1;
  const parts: string[] = [];
  for (;;) {
    if (off >= buf.length) fail('name runs past the end');
    const len = buf[off]!;
    if (len === 0) {
      off += 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (off + 1 >= buf.length) fail('truncated pointer');
      const ptr = ((len & 0x3f) << 8) | buf[off + 1]!;
      if (ptr >= off) fail('forward or self compression pointer');
      if (!jumped) c.off = off + 2;
      jumped = true;
      off = ptr;
      continue;
    }
    if (kind !== 0) fail('bad label type');
    if (off + 1 + len > buf.length) fail('label runs past the end');
    wireLen += len + 1;
    if (wireLen > 255) fail('name longer than 255 octets');
    parts.push(labelToText(buf, off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (!jumped) c.off = off;
  return parts.join('.');
}

function readRData(c: Cursor, type: number, end: number): RData {
  const start = c.off;
  const sub = (): void => {
    if (c.off !== end) fail('rdata length mismatch');
  };
  switch (type) {
    case RRType.A: {
      if (end - start !== 4) fail('A rdata must be 4 octets');
      const n = u32(c);
      return { kind: 'address', ip: v4(n).text };
    }
    case RRType.AAAA: {
      if (end - start !== 16) fail('AAAA rdata must be 16 octets');
      let big = 0n;
      for (let i = 0; i < 8; i++) big = (big << 16n) | BigInt(u16(c));
      return { kind: 'address', ip: v6(big).text };
    }
    case RRType.NS:
    case RRType.CNAME:
    case RRType.PTR: {
      const target = readName(c);
      sub();
      return { kind: 'name', target };
    }
    case RRType.SOA: {
      const mname = readName(c);
      const rname = readName(c);
      const serial = u32(c);
      const refresh = u32(c);
      const retry = u32(c);
      const expire = u32(c);
      const minimum = u32(c);
      sub();
      return { kind: 'soa', mname, rname, serial, refresh, retry, expire, minimum };
    }
    case RRType.SRV: {
      const priority = u16(c);
      const weight = u16(c);
      const port = u16(c);
      const target = readName(c);
      sub();
      return { kind: 'srv', priority, weight, port, target };
    }
    case RRType.MX: {
      const preference = u16(c);
      const exchange = readName(c);
      sub();
      return { kind: 'mx', preference, exchange };
    }
    case RRType.TXT: {
      const texts: string[] = [];
      while (c.off < end) {
        const l = c.buf[c.off]!;
        if (c.off + 1 + l > end) fail('TXT string runs past rdata');
        texts.push(new TextDecoder('latin1').decode(c.buf.subarray(c.off + 1, c.off + 1 + l)));
        c.off += 1 + l;
      }
      return { kind: 'txt', texts };
    }
    default:
      c.off = end;
      return { kind: 'raw', bytes: c.buf.slice(start, end) };
  }
}

function readRR(c: Cursor): ResourceRecord {
  const name = readName(c);
  const type = u16(c);
  const klass = u16(c);
  const ttl = u32(c);
  const rdlen = u16(c);
  const end = c.off + rdlen;
  if (end > c.buf.length) fail('rdata runs past the end');
  // Names inside rdata may point anywhere earlier in the message but must not run past the rdata.
  const inner: Cursor = { buf: c.buf.subarray(0, end), off: c.off };
  const data = readRData(inner, type, end);
  c.off = end;
  return { name, type, class: klass, ttl, data };
}

/** Decode a whole message. Trailing bytes after the last section are ignored, as miekg/dns does. */
export function decodeMessage(buf: Uint8Array): Message {
  if (buf.length < HEADER_LEN) throw new DnsFormatError('shorter than a DNS header', { id: 0, flags: 0 });
  const c: Cursor = { buf, off: 0 };
  const id = u16(c);
  const flags = u16(c);
  const qd = u16(c);
  const an = u16(c);
  const ns = u16(c);
  const ar = u16(c);
  const questions: Question[] = [];
  const partial: { id: number; flags: number; question?: Question } = { id, flags };
  try {
    for (let i = 0; i < qd; i++) {
      const name = readName(c);
      const type = u16(c);
      const klass = u16(c);
      const q = { name, type, class: klass };
      questions.push(q);
      if (i === 0) partial.question = q;
    }
    const sections: ResourceRecord[][] = [[], [], []];
    const counts = [an, ns, ar];
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < counts[s]!; i++) sections[s]!.push(readRR(c));
    }
    return { id, flags, questions, answers: sections[0]!, authority: sections[1]!, additional: sections[2]! };
  } catch (e) {
    throw new DnsFormatError(e instanceof Error ? e.message : String(e), partial);
  }
}
