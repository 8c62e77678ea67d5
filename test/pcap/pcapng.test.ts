import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CaptureCollector,
  decodeFrame,
  decodePcapng,
  encodeFrame,
  encodePcapng,
  type FieldValue,
  frameFields,
  nodeInterfaceName,
  podInterfaceName,
} from '../../netmodel/pcap/index.js';
import { allFrames, synOnFlannel, synOnUnderlay, tcpSyn } from './builders.js';
import { tsharkExpert, tsharkFields, tsharkMissing } from './tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'kpath-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const START = 1_764_806_400_000_000n; // 2025-12-04T00:00:00Z in microseconds

/** Every frame kind on its own interface, then one SYN seen hop by hop as a trace would write it. */
function sampleCapture(): {
  bytes: Uint8Array;
  order: { iface: string; frame: (typeof allFrames)[string] }[];
} {
  const c = new CaptureCollector({ startMicros: START, stepMicros: 250n });
  const order: { iface: string; frame: (typeof allFrames)[string] }[] = [];
  const add = (iface: string, frame: (typeof allFrames)[string]) => {
    c.add(iface, frame);
    order.push({ iface, frame });
  };
  for (const [name, f] of Object.entries(allFrames)) add(nodeInterfaceName('lab', name), f!);
  add(podInterfaceName('default', 'client'), tcpSyn);
  add(nodeInterfaceName('node-a', 'flannel.1'), synOnFlannel);
  add(nodeInterfaceName('node-a', 'eth0'), synOnUnderlay);
  return { bytes: c.toPcapng(), order };
}

describe('pcapng writer', () => {
  it('lays out SHB, IDBs and EPBs little endian with options padded to 32 bits', () => {
    const bytes = encodePcapng({
      interfaces: [{ name: 'node-a/eth0' }],
      packets: [
        { interfaceId: 0, timestamp: 0x1_0000_0002n, data: Uint8Array.of(1, 2, 3, 4, 5), comment: 'x' },
      ],
    });
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(0, true)).toBe(0x0a0d0d0a);
    expect(v.getUint32(8, true)).toBe(0x1a2b3c4d);
    const shbLen = v.getUint32(4, true);
    // SHB: 28 fixed + shb_userappl "kpath" (4 + 5 -> 12) + end of options 4 = 44
    expect(shbLen).toBe(44);
    expect(v.getUint32(shbLen, true)).toBe(1);
    const idbLen = v.getUint32(shbLen + 4, true);
    // IDB: 20 fixed + if_name "node-a/eth0" (4 + 11 -> 16) + if_tsresol (4 + 1 -> 8) + end 4 = 48
    expect(idbLen).toBe(48);
    const epb = shbLen + idbLen;
    expect(v.getUint32(epb, true)).toBe(6);
    expect(v.getUint32(epb + 12, true)).toBe(1); // timestamp high
    expect(v.getUint32(epb + 16, true)).toBe(2); // timestamp low
    expect(v.getUint32(epb + 20, true)).toBe(5);
    // EPB: 32 fixed + 5 data -> 8 + comment (4 + 1 -> 8) + end 4 = 52
    expect(v.getUint32(epb + 4, true)).toBe(52);
    expect(bytes.length).toBe(shbLen + idbLen + 52);
    expect(bytes.length % 4).toBe(0);
  });

  it('reads back what it wrote: interface names, timestamps, frames', () => {
    const { bytes, order } = sampleCapture();
    const read = decodePcapng(bytes);
    expect(read.packets.map((p) => p.interfaceName)).toEqual(order.map((o) => o.iface));
    expect(read.packets.map((p) => p.timestamp)).toEqual(order.map((_, i) => START + 250n * BigInt(i)));
    expect(read.packets.map((p) => decodeFrame(p.data))).toEqual(order.map((o) => o.frame));
    expect(read.interfaces.every((i) => i.linkType === 1 && i.tsresolExponent === 6)).toBe(true);
  });

  it('truncates to the snaplen and keeps the original length', () => {
    const bytes = encodePcapng({
      interfaces: [{ name: 'n/eth0', snapLen: 64 }],
      packets: [{ interfaceId: 0, timestamp: 0n, data: encodeFrame(synOnUnderlay) }],
    });
    const p = decodePcapng(bytes).packets[0]!;
    expect(p.data.length).toBe(64);
    expect(p.originalLength).toBe(124);
  });

  it('refuses a packet for an undeclared interface and a file that is not pcapng', () => {
    expect(() =>
      encodePcapng({
        interfaces: [],
        packets: [{ interfaceId: 0, timestamp: 0n, data: new Uint8Array(14) }],
      }),
    ).toThrow(/only 0 are declared/);
    expect(() => decodePcapng(new Uint8Array(24))).toThrow(/not a pcapng file/);
  });
});

const missing = tsharkMissing();

describe.skipIf(missing !== undefined)(
  `tshark reads kpath's pcapng${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    const file = join(dir, 'sample.pcapng');
    const { bytes, order } = sampleCapture();
    writeFileSync(file, bytes);

    it('finds no malformed packet and no expert warning or error (checksums validated)', () => {
      // The same SYN on several interfaces looks like a retransmission to TCP analysis (a Note); the
      // check is about the frames themselves.
      const expert = tsharkExpert(file, ['-o', 'tcp.analyze_sequence_numbers:FALSE']);
      expect(expert.Errors ?? []).toEqual([]);
      expect(expert.Warns ?? []).toEqual([]);
    });

    it('names every frame`s interface NODE/DEVICE or pod/NS/NAME/eth0 and rates every checksum good', () => {
      const rows = tsharkFields(file, [
        'frame.interface_name',
        'ip.checksum.status',
        'tcp.checksum.status',
        'udp.checksum.status',
        'icmp.checksum.status',
        'sctp.checksum.status',
        'icmpv6.checksum.status',
        '_ws.malformed',
      ]);
      expect(rows.map((r) => r[0]![0])).toEqual(order.map((o) => o.iface));
      for (const [i, r] of rows.entries()) {
        // 1 = good; an empty column is a protocol the frame does not have. The echo request an ICMP
        // error quotes is cut short, so its checksum is 2 (unverified) by nature.
        const quoting = order[i]!.frame.icmp?.type === 3;
        for (const col of r.slice(1, 7))
          col.forEach((v, k) => {
            const ok = v === '1' || (quoting && k > 0 && v === '2');
            expect({ frame: i + 1, status: v, ok }).toEqual({ frame: i + 1, status: v, ok: true });
          });
        expect(r[7]).toEqual([]);
      }
      expect(rows.slice(0, 2).map((r) => r[2])).toEqual([['1'], ['1']]);
    });

    it('shows the values that were encoded, field by field (frameFields names are Wireshark`s)', () => {
      const skip = new Set(['udp.checksum_zero', 'icmp.quoted_len', 'data.len', 'frame.len']);
      const perFrame = order.map((o) => frameFields(o.frame));
      const names = [...new Set(perFrame.flatMap((f) => Object.keys(f)))]
        .map((k) => k.replace(/^(inner|quote)\./, ''))
        .filter((k) => !skip.has(k));
      const uniq = [...new Set(['frame.len', ...names])];
      const rows = tsharkFields(file, uniq);
      let compared = 0;
      perFrame.forEach((fields, i) => {
        for (const [key, value] of Object.entries(fields)) {
          const nested = /^(inner|quote)\./.test(key);
          const base = key.replace(/^(inner|quote)\./, '');
          if (skip.has(base) && base !== 'frame.len') continue;
          if (base === 'frame.len' && nested) continue;
          const col = rows[i]![uniq.indexOf(base)]!;
          const shown = col[nested && base in fields ? 1 : 0];
          expect({
            frame: i + 1,
            key,
            value: shown === undefined ? undefined : parseShown(shown, value),
          }).toEqual({
            frame: i + 1,
            key,
            value,
          });
          compared++;
        }
      });
      expect(compared).toBeGreaterThan(200);
    });
  },
);

describe.skipIf(missing !== undefined)(
  `tshark reads comments and descriptions${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('shows a hop comment as frame.comment and the interface description', () => {
      const file = join(dir, 'comment.pcapng');
      writeFileSync(
        file,
        encodePcapng({
          interfaces: [{ name: 'node-a/cni0', description: 'bridge 10.244.1.1/24' }],
          packets: [
            { interfaceId: 0, timestamp: START, data: encodeFrame(tcpSyn), comment: 'FORWARD: ACCEPT' },
          ],
        }),
      );
      const rows = tsharkFields(file, [
        'frame.interface_name',
        'frame.interface_description',
        'frame.comment',
      ]);
      expect(rows).toEqual([[['node-a/cni0'], ['bridge 10.244.1.1/24'], ['FORWARD: ACCEPT']]]);
      const expert = tsharkExpert(file);
      expect(expert.Warns ?? []).toEqual([]);
      expect(expert.Errors ?? []).toEqual([]);
    });
  },
);

function parseShown(shown: string, like: FieldValue): FieldValue {
  if (typeof like === 'boolean') return shown !== '0' && shown !== 'False'; // a protocol-typed flag shows its bytes
  if (typeof like === 'number') return Number(shown);
  return shown;
}
