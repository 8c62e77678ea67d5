/**
 * Fuzz: random and mutated packets, in process and over real UDP and TCP. The server must never crash,
 * never answer a response (QR=1), and every reply must parse. KPATH_DNS_FUZZ sets the socket packet
 * count (default 100000); in-process runs the same count again.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAnswerer } from '../../netmodel/dns/answer.js';
import { decodeMessage } from '../../netmodel/dns/wire-read.js';
import { buildZone } from '../../netmodel/dns/zone.js';
import type { DnsServer } from '../../proxy/dns/index.js';
import { startDnsServer } from '../../proxy/dns/index.js';
import { clusterView } from './fixtures.js';
import { query, udpExchange } from './helpers.js';
import { seeded } from './rng.js';

const N = Number(process.env.KPATH_DNS_FUZZ ?? 100_000);

const seeds = [
  query('svc1.testns.svc.cluster.local'),
  query('_http._tcp.hdls1.testns.svc.cluster.local', 'SRV', { edns: 1232 }),
  query('11.0.96.10.in-addr.arpa', 'PTR'),
  query('big.testns.svc.cluster.local', 'A', { edns: 600, do: true }),
  query('ext.testns.svc.cluster.local', 'CNAME'),
  query('example.com', 'ANY' as dnsPacket.RecordType),
];

/** Packet i: random bytes or a mutated seed. Queries get IDs < 0x8000, responses (QR=1) IDs >= 0x8000. */
function makePacket(rand: () => number, i: number): Buffer {
  let p: Buffer;
  const kind = i % 4;
  if (kind === 0) {
    p = Buffer.alloc(Math.floor(rand() * 80));
    for (let j = 0; j < p.length; j++) p[j] = Math.floor(rand() * 256);
  } else {
    p = Buffer.from(seeds[Math.floor(rand() * seeds.length)]!);
    const flips = 1 + Math.floor(rand() * 4);
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(rand() * p.length);
      p[at] = kind === 2 && at >= 4 && at < 12 ? Math.floor(rand() * 4) : Math.floor(rand() * 256);
    }
    if (kind === 3) p = p.subarray(0, Math.floor(rand() * p.length) + 1);
  }
  if (p.length >= 12) {
    const qr = rand() < 0.2;
    p.writeUInt16BE(qr ? 0x8000 | (i & 0x7fff) : i & 0x7fff, 0);
    p[2] = qr ? p[2]! | 0x80 : p[2]! & 0x7f;
  }
  return p;
}

function checkReply(r: Uint8Array): void {
  expect(r.length).toBeGreaterThanOrEqual(12);
  expect(((r[0]! << 8) | r[1]!) & 0x8000).toBe(0); // never a reply to a QR=1 packet
  expect(r[2]! & 0x80).toBe(0x80);
  decodeMessage(r);
  dnsPacket.decode(Buffer.from(r));
}

describe('fuzz', () => {
  let server: DnsServer;
  let port: number;
  beforeAll(async () => {
    server = await startDnsServer({
      listen: [{ host: '127.0.0.1', port: 0 }],
      view: clusterView(),
      logger: pino({ level: 'silent' }),
    });
    port = server.addresses[0]!.port;
  });
  afterAll(async () => {
    await server.close();
  });

  it(`in process: ${N} packets`, () => {
    const a = createAnswerer(buildZone(clusterView()));
    const rand = seeded(1);
    for (let i = 0; i < N; i++) {
      const p = makePacket(rand, i);
      for (const t of ['udp', 'tcp'] as const) {
        const o = a.answer(p, t);
        if (o.kind === 'reply') {
          checkReply(o.bytes);
          if (t === 'udp') expect(o.bytes.length).toBeLessThanOrEqual(Math.max(512, o.maxSize));
        } else expect(p.length < 12 || (p[2]! & 0x80) !== 0).toBe(true);
      }
    }
    // CPU-bound (~5 s alone); on a loaded 2-core machine it took 31 s, so the limit is the UDP case's.
  }, 60_000);

  it(`over UDP: ${N} packets`, async () => {
    const rand = seeded(2);
    const sock = dgram.createSocket('udp4');
    let replies = 0;
    const bad: string[] = [];
    sock.on('message', (m) => {
      replies++;
      try {
        checkReply(m);
      } catch (e) {
        bad.push(String(e));
      }
    });
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.setRecvBufferSize(8 << 20);
    const batch = 100;
    for (let i = 0; i < N; i += batch) {
      await Promise.all(
        Array.from(
          { length: Math.min(batch, N - i) },
          (_, j) =>
            new Promise<void>((r) => sock.send(makePacket(rand, i + j), port, '127.0.0.1', () => r())),
        ),
      );
      // Pace on the server's own counter (same process) so the socket buffers never overflow.
      const target = server.stats.queries + Math.min(batch, N - i);
      for (let spin = 0; spin < 200 && server.stats.queries < target - 2; spin++) {
        await new Promise((r) => setImmediate(r));
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    sock.close();
    expect(bad).toEqual([]);
    expect(replies).toBeGreaterThan(N / 4);
    expect(await udpExchange(port, query('svc1.testns.svc.cluster.local'))).toBeDefined();
  }, 60_000);

  it('over TCP: framed garbage and raw junk on several connections', async () => {
    const rand = seeded(3);
    const n = Math.max(1000, Math.floor(N / 5));
    const perConn = 2000;
    const bad: string[] = [];
    for (let c = 0; c < n; c += perConn) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port });
        let buf = Buffer.alloc(0);
        s.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
            const len = buf.readUInt16BE(0);
            try {
              checkReply(buf.subarray(2, 2 + len));
            } catch (e) {
              bad.push(String(e));
            }
            buf = buf.subarray(2 + len);
          }
        });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.on('connect', () => {
          const frames: Buffer[] = [];
          for (let i = 0; i < perConn; i++) {
            const p = makePacket(rand, c + i);
            const h = Buffer.alloc(2);
            h.writeUInt16BE(p.length, 0);
            frames.push(h, p);
          }
          // the last connection ends in raw junk with a lying length prefix
          if (c + perConn >= n) frames.push(Buffer.from([0xff, 0xff, 1, 2, 3]));
          s.write(Buffer.concat(frames));
          setTimeout(() => s.end(), 500);
        });
      });
    }
    expect(bad).toEqual([]);
    expect(await udpExchange(port, query('svc1.testns.svc.cluster.local'))).toBeDefined();
  }, 60_000);
});
