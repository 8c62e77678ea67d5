/** Loopback-only DNS clients for the tests. */

import { execFile } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import dnsPacket from 'dns-packet';

export function udpExchange(
  port: number,
  query: Uint8Array,
  timeoutMs = 2000,
  host = '127.0.0.1',
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, timeoutMs);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(query, port, host);
  });
}

/** Send several framed queries in one write; collect `expect` replies. */
export function tcpExchange(
  port: number,
  queries: Uint8Array[],
  expect = queries.length,
  timeoutMs = 3000,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, timeoutMs);
    sock.on('error', reject);
    sock.on('connect', () => {
      sock.write(
        Buffer.concat(
          queries.map((q) => {
            const b = Buffer.alloc(q.length + 2);
            b.writeUInt16BE(q.length, 0);
            b.set(q, 2);
            return b;
          }),
        ),
      );
    });
    sock.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= buf.readUInt16BE(0) + 2) {
        const len = buf.readUInt16BE(0);
        out.push(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
      }
      if (out.length >= expect) {
        clearTimeout(t);
        sock.destroy();
        resolve(out);
      }
    });
  });
}

export function query(
  name: string,
  type: dnsPacket.RecordType = 'A',
  opts: { id?: number; edns?: number; do?: boolean } = {},
): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    ...(opts.edns !== undefined
      ? {
          additionals: [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: opts.edns,
              flags: opts.do ? dnsPacket.DNSSEC_OK : 0,
            } as dnsPacket.Answer,
          ],
        }
      : {}),
  });
}

export function dig(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['+tries=1', '+time=2', ...args], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(stdout);
    });
  });
}
