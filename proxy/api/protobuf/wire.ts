/**
 * The protobuf wire format as the Go code generated for Kubernetes (gogo-protobuf) reads it: varints
 * of up to ten bytes, length-delimited fields, fixed 32/64-bit fields, groups skipped. Errors carry
 * the generated code's messages (`unexpected EOF`, `proto: integer overflow`, ...), which the
 * apiserver passes on in its BadRequest.
 */

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export const WIRE = { varint: 0, fixed64: 1, bytes: 2, startGroup: 3, endGroup: 4, fixed32: 5 } as const;

const EOF = 'unexpected EOF';

export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as an unsigned 64-bit BigInt. */
  varint(): bigint {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift >= 64n) throw new WireError('proto: integer overflow');
      if (this.pos >= this.end) throw new WireError(EOF);
      const b = this.buf[this.pos++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, v);
    }
  }

  /** A varint that must fit a non-negative JS number (tags and lengths). */
  small(): number {
    let v = 0;
    let mul = 1;
    for (let shift = 0; ; shift += 7) {
      if (shift >= 64) throw new WireError('proto: integer overflow');
      if (this.pos >= this.end) throw new WireError(EOF);
      const b = this.buf[this.pos++]!;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
  }

  /** A length-delimited field's bytes, as [start, end) of buf. */
  span(): [number, number] {
    const len = this.small();
    if (len >= 2 ** 63)
      // Go reads the length into an int: from 2^63 on it is negative
      throw new WireError('proto: negative length found during unmarshaling');
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw new WireError(EOF);
    this.pos = end;
    return [start, end];
  }

  fixed64(): Uint8Array {
    if (this.pos + 8 > this.end) throw new WireError(EOF);
    const b = this.buf.subarray(this.pos, this.pos + 8);
    this.pos += 8;
    return b;
  }

  fixed32(): Uint8Array {
    if (this.pos + 4 > this.end) throw new WireError(EOF);
    const b = this.buf.subarray(this.pos, this.pos + 4);
    this.pos += 4;
    return b;
  }

  /** Field number and wire type of the next field; `message` names the struct for the errors. */
  tag(message: string): { num: number; wire: number } {
    const t = this.small();
    const num = Math.floor(t / 8);
    const wire = t % 8;
    if (wire === WIRE.endGroup) throw new WireError(`proto: ${message}: wiretype end group for non-group`);
    if (num <= 0) throw new WireError(`proto: ${message}: illegal tag ${num} (wire type ${wire})`);
    return { num, wire };
  }

  /** Step over a field the schema does not know (the generated skipGenerated). */
  skip(wire: number): void {
    let depth = 0;
    for (;;) {
      switch (wire) {
        case WIRE.varint:
          this.varint();
          break;
        case WIRE.fixed64:
          this.fixed64();
          break;
        case WIRE.bytes:
          this.span();
          break;
        case WIRE.startGroup:
          depth++;
          break;
        case WIRE.endGroup:
          if (depth === 0) throw new WireError('proto: unexpected end of group');
          depth--;
          break;
        case WIRE.fixed32:
          this.fixed32();
          break;
        default:
          throw new WireError(`proto: illegal wireType ${wire}`);
      }
      if (depth === 0) return;
      wire = this.small() % 8;
    }
  }
}
