/**
 * A pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, one Interface Description
 * Block per interface (if_name, if_tsresol, snaplen, LINKTYPE_ETHERNET), one Enhanced Packet Block
 * per frame. Little endian; every option value padded to 32 bits; timestamps come from the caller,
 * so the same trace always gives the same file.
 */
import { frameError } from './bytes.js';
import { encodeFrame } from './encode.js';
import type { Frame } from './frame.js';

export const LINKTYPE_ETHERNET = 1;
export const DEFAULT_SNAPLEN = 262144;

export interface PcapngInterface {
  /** if_name: `NODE/DEVICE` for a node's device, `pod/NS/NAME/eth0` for a pod's (see interfaceName). */
  readonly name: string;
  readonly description?: string;
  readonly linkType?: number;
  readonly snapLen?: number;
  /** if_tsresol as a power of ten: 6 (the default) means timestamps are in microseconds, 9 nanoseconds. */
  readonly tsresolExponent?: number;
}

export interface PcapngPacket {
  /** Index into the interfaces. */
  readonly interfaceId: number;
  /** In units of the interface's if_tsresol (microseconds by default) since 1970-01-01 UTC. */
  readonly timestamp: bigint;
  readonly data: Uint8Array;
  /** The length on the wire when `data` is shorter; defaults to data.length. */
  readonly originalLength?: number;
  /** opt_comment of the packet (Wireshark shows it as frame.comment). */
  readonly comment?: string;
}

export interface PcapngCapture {
  readonly interfaces: readonly PcapngInterface[];
  readonly packets: readonly PcapngPacket[];
  /** shb_userappl; default "kpath". */
  readonly application?: string;
}

const utf8 = new TextEncoder();

class LeWriter {
  private parts: Uint8Array[] = [];
  length = 0;
  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }
  u16(v: number): this {
    return this.push(Uint8Array.of(v & 0xff, (v >>> 8) & 0xff));
  }
  u32(v: number): this {
    return this.push(Uint8Array.of(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff));
  }
  bytes(b: Uint8Array): this {
    return this.push(b);
  }
  pad(): this {
    const n = (4 - (this.length % 4)) % 4;
    return n ? this.push(new Uint8Array(n)) : this;
  }
  option(code: number, value: Uint8Array): this {
    if (value.length > 0xffff) throw frameError(`pcapng option ${code} is longer than 65535 bytes`);
    return this.u16(code).u16(value.length).bytes(value).pad();
  }
  endOfOptions(): this {
    return this.u16(0).u16(0);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** A block: type, total length, body, total length again. */
function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  return new LeWriter().u32(type).u32(total).bytes(body).u32(total).finish();
}

export function encodePcapng(c: PcapngCapture): Uint8Array {
  const out = new LeWriter();
  const shb = new LeWriter()
    .u32(0x1a2b3c4d)
    .u16(1)
    .u16(0)
    .u32(0xffffffff)
    .u32(0xffffffff) // section length -1: not specified
    .option(4, utf8.encode(c.application ?? 'kpath'))
    .endOfOptions();
  out.bytes(block(0x0a0d0d0a, shb.finish()));
  for (const i of c.interfaces) {
    const res = i.tsresolExponent ?? 6;
    if (!Number.isInteger(res) || res < 0 || res > 127) throw frameError(`if_tsresol ${res} is not 0..127`);
    const idb = new LeWriter()
      .u16(i.linkType ?? LINKTYPE_ETHERNET)
      .u16(0)
      .u32(i.snapLen ?? DEFAULT_SNAPLEN)
      .option(2, utf8.encode(i.name));
    if (i.description) idb.option(3, utf8.encode(i.description));
    idb.option(9, Uint8Array.of(res)).endOfOptions();
    out.bytes(block(1, idb.finish()));
  }
  for (const p of c.packets) {
    const iface = c.interfaces[p.interfaceId];
    if (!iface)
      throw frameError(`packet for interface ${p.interfaceId}, but only ${c.interfaces.length} are declared`);
    const snap = iface.snapLen ?? DEFAULT_SNAPLEN;
    const data = p.data.length > snap ? p.data.subarray(0, snap) : p.data;
    const ts = BigInt.asUintN(64, p.timestamp);
    const epb = new LeWriter()
      .u32(p.interfaceId)
      .u32(Number(ts >> 32n))
      .u32(Number(ts & 0xffffffffn))
      .u32(data.length)
      .u32(p.originalLength ?? p.data.length)
      .bytes(data)
      .pad();
    if (p.comment !== undefined) epb.option(1, utf8.encode(p.comment)).endOfOptions();
    out.bytes(block(6, epb.finish()));
  }
  return out.finish();
}

/** if_name of a node's device. */
export function nodeInterfaceName(node: string, device: string): string {
  return `${node}/${device}`;
}

/** if_name of a pod's device. */
export function podInterfaceName(namespace: string, pod: string, device = 'eth0'): string {
  return `pod/${namespace}/${pod}/${device}`;
}

/**
 * Collects frames per interface in order and writes them as pcapng with deterministic timestamps:
 * the n-th frame (from 0) gets startMicros + n * stepMicros. Interfaces are declared in order of
 * first use.
 */
export class CaptureCollector {
  private readonly names = new Map<string, number>();
  private readonly interfaces: PcapngInterface[] = [];
  private readonly packets: PcapngPacket[] = [];

  constructor(
    private readonly opts: {
      readonly startMicros: bigint;
      readonly stepMicros?: bigint;
      readonly snapLen?: number;
    },
  ) {}

  /** Declare an interface without a frame (so it appears in the file even if nothing crossed it). */
  interfaceId(name: string, description?: string): number {
    let id = this.names.get(name);
    if (id === undefined) {
      id = this.interfaces.length;
      this.names.set(name, id);
      this.interfaces.push({
        name,
        ...(description ? { description } : {}),
        ...(this.opts.snapLen ? { snapLen: this.opts.snapLen } : {}),
      });
    }
    return id;
  }

  add(interfaceName: string, frame: Frame | Uint8Array, comment?: string): void {
    const data = frame instanceof Uint8Array ? frame : encodeFrame(frame);
    const n = BigInt(this.packets.length);
    this.packets.push({
      interfaceId: this.interfaceId(interfaceName),
      timestamp: this.opts.startMicros + n * (this.opts.stepMicros ?? 1000n),
      data,
      ...(comment !== undefined ? { comment } : {}),
    });
  }

  get size(): number {
    return this.packets.length;
  }

  toPcapng(application?: string): Uint8Array {
    return encodePcapng({
      interfaces: this.interfaces,
      packets: this.packets,
      ...(application ? { application } : {}),
    });
  }
}
