/**
 * Byte helpers shared by the frame codec and the pcapng writer: a growable big-endian writer, a
 * bounds-checked reader, and the text forms of MACs, IPv4/IPv6 addresses and hex payloads that frame
 * descriptions use (so a Frame is plain JSON).
 */
import { parseIP, v4, v6 } from '../addr.js';
import { ErrorCodes, KpathError } from '../errors.js';

export function frameError(message: string): KpathError {
  return new KpathError(ErrorCodes.FRAME, message);
}

/** Appends big-endian fields; `patch16` fills in a length or checksum once it is known. */
export class ByteWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf[this.len++] = (v >>> 8) & 0xff;
    this.buf[this.len++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.u16((v >>> 16) & 0xffff);
    return this.u16(v & 0xffff);
  }

  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  zeros(n: number): this {
    this.room(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
    return this;
  }

  patch16(at: number, v: number): void {
    this.buf[at] = (v >>> 8) & 0xff;
    this.buf[at + 1] = v & 0xff;
  }

  patch32(at: number, v: number): void {
    this.patch16(at, (v >>> 16) & 0xffff);
    this.patch16(at + 2, v & 0xffff);
  }

  /** A view of bytes written so far, from `from`. */
  view(from = 0, to = this.len): Uint8Array {
    return this.buf.subarray(from, to);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** Reads big-endian fields from a frame; running off the end is a KPATH_E_FRAME error naming `what`. */
export class ByteReader {
  constructor(
    readonly data: Uint8Array,
    public pos = 0,
    readonly end = data.length,
  ) {}

  get left(): number {
    return this.end - this.pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.end)
      throw frameError(
        `truncated frame: ${what} needs ${n} bytes at offset ${this.pos}, only ${this.left} left`,
      );
  }

  u8(what: string): number {
    this.need(1, what);
    return this.data[this.pos++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = (this.data[this.pos]! << 8) | this.data[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = ((this.data[this.pos]! << 24) >>> 0) + readU24(this.data, this.pos + 1);
    this.pos += 4;
    return v;
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  rest(): Uint8Array {
    const b = this.data.subarray(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
}

function readU24(d: Uint8Array, at: number): number {
  return (d[at]! << 16) | (d[at + 1]! << 8) | d[at + 2]!;
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** `aa:bb:cc:dd:ee:ff` (lower case, as `ip link` prints it) -> 6 bytes. */
export function macBytes(text: string): Uint8Array {
  const t = text.toLowerCase();
  if (!MAC.test(t))
    throw frameError(`"${text}" is not a MAC address (expected six hex pairs, e.g. 02:42:0a:f4:01:02)`);
  return Uint8Array.from(t.split(':').map((h) => Number.parseInt(h, 16)));
}

export function macText(b: Uint8Array): string {
  return Array.from(b.subarray(0, 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

export function ipv4Bytes(text: string): Uint8Array {
  const ip = parseIP(text);
  if (ip.family !== 4) throw frameError(`"${text}" is not an IPv4 address`);
  return Uint8Array.of(ip.n >>> 24, (ip.n >>> 16) & 255, (ip.n >>> 8) & 255, ip.n & 255);
}

export function ipv4Text(b: Uint8Array): string {
  return v4(((b[0]! << 24) >>> 0) + readU24(b, 1)).text;
}

export function ipv6Bytes(text: string): Uint8Array {
  const ip = parseIP(text);
  if (ip.family !== 6) throw frameError(`"${text}" is not an IPv6 address`);
  const out = new Uint8Array(16);
  let big = ip.big;
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(big & 0xffn);
    big >>= 8n;
  }
  return out;
}

export function ipv6Text(b: Uint8Array): string {
  let big = 0n;
  for (let i = 0; i < 16; i++) big = (big << 8n) | BigInt(b[i]!);
  return v6(big).text;
}

const HEX = /^([0-9a-f]{2})*$/;

/** Lower-case hex without separators -> bytes. */
export function hexBytes(text: string, what = 'payload'): Uint8Array {
  const t = text.toLowerCase();
  if (!HEX.test(t)) throw frameError(`${what} "${text.slice(0, 40)}" is not hex (pairs of 0-9a-f)`);
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(t.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function hexText(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
