/**
 * Encoding messages to wire format with name compression (RFC 1035 4.1.4). Compression is keyed on
 * lower-cased suffixes, so a name that shares a suffix with the question becomes a pointer into the
 * question and shows the asker's spelling (0x20-safe), as CoreDNS's answers do.
 */
import { tryParseIP } from '../addr.js';
import type { Message, Question, RData, ResourceRecord } from './message.js';
import { nameToLabels } from './message.js';

export interface Encoded {
  readonly bytes: Uint8Array;
  /** Offset just past the question section. */
  readonly questionEnd: number;
  /** Offset just past each RR, in order: answers, authority, additional. */
  readonly rrEnds: readonly number[];
}

class Writer {
  buf = new Uint8Array(512);
  len = 0;
  private readonly dict = new Map<string, number>();

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
  }
  u32(v: number): void {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  setU16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }
  name(name: string, compress: boolean): void {
    const labels = nameToLabels(name);
    const keys: string[] = [];
    let acc = '';
    for (let i = labels.length - 1; i >= 0; i--) {
      acc = `${lowerKey(labels[i]!)}\u0000${acc}`;
      keys[i] = acc;
    }
    for (let i = 0; i < labels.length; i++) {
      if (compress) {
        const ptr = this.dict.get(keys[i]!);
        if (ptr !== undefined) {
          this.u16(0xc000 | ptr);
          return;
        }
        if (this.len < 0x3fff) this.dict.set(keys[i]!, this.len);
      }
      const l = labels[i]!;
      this.u8(l.length);
      this.bytes(l);
    }
    this.u8(0);
  }
}

function lowerKey(label: Uint8Array): string {
  let s = '';
  for (const b of label) s += String.fromCharCode(b >= 0x41 && b <= 0x5a ? b + 32 : b);
  return s;
}

function writeRData(w: Writer, type: number, d: RData): void {
  switch (d.kind) {
    case 'address': {
      const ip = tryParseIP(d.ip);
      if (!ip) throw new RangeError(`bad address ${d.ip}`);
      if (ip.family === 4) w.u32(ip.n);
      else for (let s = 112n; s >= 0n; s -= 16n) w.u16(Number((ip.big >> s) & 0xffffn));
      return;
    }
    case 'name':
      w.name(d.target, true);
      return;
    case 'soa':
      w.name(d.mname, true);
      w.name(d.rname, true);
      w.u32(d.serial);
      w.u32(d.refresh);
      w.u32(d.retry);
      w.u32(d.expire);
      w.u32(d.minimum);
      return;
    case 'srv':
      w.u16(d.priority);
      w.u16(d.weight);
      w.u16(d.port);
      // RFC 2782: the SRV target is not compressed by senders.
      w.name(d.target, false);
      return;
    case 'mx':
      w.u16(d.preference);
      w.name(d.exchange, true);
      return;
    case 'txt':
      for (const t of d.texts) {
        const b = new TextEncoder().encode(t);
        w.u8(Math.min(b.length, 255));
        w.bytes(b.subarray(0, 255));
      }
      return;
    case 'raw':
      w.bytes(d.bytes);
      return;
  }
  void type;
}

function writeRR(w: Writer, rr: ResourceRecord): void {
  w.name(rr.name, true);
  w.u16(rr.type);
  w.u16(rr.class);
  w.u32(rr.ttl >>> 0);
  const at = w.len;
  w.u16(0);
  writeRData(w, rr.type, rr.data);
  w.setU16(at, w.len - at - 2);
}

function writeQuestion(w: Writer, q: Question): void {
  w.name(q.name, true);
  w.u16(q.type);
  w.u16(q.class);
}

/** Encode a whole message (compressed). Throws RangeError on unencodable names or addresses. */
export function encodeMessage(m: Message): Encoded {
  const w = new Writer();
  w.u16(m.id);
  w.u16(m.flags);
  w.u16(m.questions.length);
  w.u16(m.answers.length);
  w.u16(m.authority.length);
  w.u16(m.additional.length);
  for (const q of m.questions) writeQuestion(w, q);
  const questionEnd = w.len;
  const rrEnds: number[] = [];
  for (const section of [m.answers, m.authority, m.additional]) {
    for (const rr of section) {
      writeRR(w, rr);
      rrEnds.push(w.len);
    }
  }
  return { bytes: w.buf.slice(0, w.len), questionEnd, rrEnds };
}

/** An OPT RR (RFC 6891) with no options. */
export function optRecord(udpSize: number, extRcode = 0, doBit = false): ResourceRecord {
  return {
    name: '',
    type: 41,
    class: udpSize,
    ttl: ((extRcode & 0xff) << 24) | (doBit ? 0x8000 : 0),
    data: { kind: 'raw', bytes: new Uint8Array(0) },
  };
}
