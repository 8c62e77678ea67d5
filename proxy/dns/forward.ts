/**
 * Relaying a query to an upstream server over UDP or TCP. Tests must only ever give this a loopback
 * address; nothing here enforces it.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { tryParseHostPort } from '../../netmodel/addr.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

export interface Upstream {
  readonly host: string;
  readonly port: number;
}

export function parseUpstream(text: string): Upstream {
  const hp = tryParseHostPort(text, 53);
  if (!hp) {
    throw new KpathError(
      ErrorCodes.USAGE,
      `dns upstream "${text}" must be ip:port (e.g. 127.0.0.53:53 or [::1]:53)`,
    );
  }
  return { host: hp.ip.text, port: hp.port };
}

/** Send `query` and resolve with the reply, or undefined on timeout or error. Never rejects. */
export function exchangeUdp(
  up: Upstream,
  query: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(up.host.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (r: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        // already closed
      }
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port !== up.port || msg.length < 2 || msg[0] !== query[0] || msg[1] !== query[1]) return;
      finish(new Uint8Array(msg));
    });
    sock.send(query, up.port, up.host, (err) => {
      if (err) finish(undefined);
    });
  });
}

/** One query over a fresh TCP connection (2-byte length prefix). Never rejects. */
export function exchangeTcp(
  up: Upstream,
  query: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: up.host, port: up.port });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (r: Uint8Array | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('error', () => finish(undefined));
    sock.on('close', () => finish(undefined));
    sock.on('connect', () => {
      const framed = Buffer.alloc(query.length + 2);
      framed.writeUInt16BE(query.length, 0);
      framed.set(query, 2);
      sock.write(framed);
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length > 65537) return finish(undefined);
      if (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length >= len + 2) finish(new Uint8Array(buf.subarray(2, len + 2)));
      }
    });
  });
}
