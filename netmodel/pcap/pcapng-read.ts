/**
 * A pcapng reader for the files kpath writes and the ones dumpcap writes (either byte order, several
 * sections, Simple and Enhanced Packet Blocks; other blocks are skipped). Pure: bytes in, records out.
 */
import { frameError } from './bytes.js';
import { type DecodedFrame, type DecodeOptions, decodeFrame } from './decode.js';

export interface ReadInterface {
  readonly name: string;
  readonly linkType: number;
  readonly snapLen: number;
  readonly tsresolExponent: number;
}

export interface ReadPacket {
  readonly interfaceId: number;
  readonly interfaceName: string;
  readonly timestamp: bigint;
  readonly data: Uint8Array;
  readonly originalLength: number;
  readonly comment?: string;
}

export interface ReadCapture {
  readonly interfaces: readonly ReadInterface[];
  readonly packets: readonly ReadPacket[];
}

const utf8 = new TextDecoder();

export function decodePcapng(bytes: Uint8Array): ReadCapture {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const interfaces: ReadInterface[] = [];
  const packets: ReadPacket[] = [];
  let section: ReadInterface[] = [];
  let le = true;
  let pos = 0;
  while (pos + 12 <= bytes.length) {
    const typeLe = view.getUint32(pos, true);
    if (typeLe === 0x0a0d0d0a) {
      const magic = view.getUint32(pos + 8, true);
      if (magic === 0x1a2b3c4d) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else throw frameError(`pcapng: bad byte-order magic at offset ${pos}`);
      section = [];
    } else if (pos === 0) throw frameError('not a pcapng file (no Section Header Block at offset 0)');
    const type = view.getUint32(pos, le);
    const len = view.getUint32(pos + 4, le);
    if (len < 12 || len % 4 !== 0 || pos + len > bytes.length)
      throw frameError(`pcapng: block at offset ${pos} has bad length ${len}`);
    if (view.getUint32(pos + len - 4, le) !== len)
      throw frameError(`pcapng: block at offset ${pos}: trailing length differs`);
    const body = pos + 8;
    const bodyEnd = pos + len - 4;
    if (type === 1) {
      const opts = readOptions(view, bytes, body + 8, bodyEnd, le);
      const name = opts.get(2);
      const res = opts.get(9);
      const iface: ReadInterface = {
        name: name ? utf8.decode(name) : `if${section.length}`,
        linkType: view.getUint16(body, le),
        snapLen: view.getUint32(body + 4, le),
        tsresolExponent: res ? res[0]! : 6,
      };
      section.push(iface);
      interfaces.push(iface);
    } else if (type === 6) {
      const id = view.getUint32(body, le);
      const iface = section[id];
      if (!iface) throw frameError(`pcapng: packet for undeclared interface ${id} at offset ${pos}`);
      const ts = (BigInt(view.getUint32(body + 4, le)) << 32n) | BigInt(view.getUint32(body + 8, le));
      const caplen = view.getUint32(body + 12, le);
      const origlen = view.getUint32(body + 16, le);
      const dataAt = body + 20;
      if (dataAt + caplen > bodyEnd) throw frameError(`pcapng: packet at offset ${pos} overruns its block`);
      const opts = readOptions(view, bytes, dataAt + ((caplen + 3) & ~3), bodyEnd, le);
      const comment = opts.get(1);
      packets.push({
        interfaceId: interfaces.indexOf(iface),
        interfaceName: iface.name,
        timestamp: ts,
        data: bytes.slice(dataAt, dataAt + caplen),
        originalLength: origlen,
        ...(comment ? { comment: utf8.decode(comment) } : {}),
      });
    } else if (type === 3) {
      const iface = section[0];
      if (!iface) throw frameError(`pcapng: simple packet before any interface at offset ${pos}`);
      const origlen = view.getUint32(body, le);
      const caplen = Math.min(origlen, iface.snapLen || origlen, bodyEnd - body - 4);
      packets.push({
        interfaceId: interfaces.indexOf(iface),
        interfaceName: iface.name,
        timestamp: 0n,
        data: bytes.slice(body + 4, body + 4 + caplen),
        originalLength: origlen,
      });
    }
    pos += len;
  }
  if (pos !== bytes.length) throw frameError(`pcapng: ${bytes.length - pos} stray bytes at the end`);
  return { interfaces, packets };
}

function readOptions(
  view: DataView,
  bytes: Uint8Array,
  from: number,
  to: number,
  le: boolean,
): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let p = from;
  while (p + 4 <= to) {
    const code = view.getUint16(p, le);
    const len = view.getUint16(p + 2, le);
    if (code === 0) break;
    if (p + 4 + len > to) throw frameError(`pcapng: option ${code} at offset ${p} overruns its block`);
    if (!out.has(code)) out.set(code, bytes.subarray(p + 4, p + 4 + len));
    p += 4 + ((len + 3) & ~3);
  }
  return out;
}

/**
 * The frames of a capture per interface name, decoded, in capture order. `rename` maps a file's
 * interface names to the ones wanted (e.g. dumpcap's `eth0` -> `node-a/eth0`); an interface it maps
 * to undefined is left out.
 */
export function framesByInterface(
  capture: ReadCapture,
  rename: (name: string) => string | undefined = (n) => n,
  opts: DecodeOptions = {},
): Record<string, DecodedFrame[]> {
  const out: Record<string, DecodedFrame[]> = {};
  for (const i of capture.interfaces) {
    const name = rename(i.name);
    if (name !== undefined) out[name] ??= [];
  }
  for (const p of capture.packets) {
    const name = rename(p.interfaceName);
    if (name === undefined) continue;
    const list = out[name] ?? [];
    list.push(decodeFrame(p.data, opts));
    out[name] = list;
  }
  return out;
}
