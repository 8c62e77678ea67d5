/**
 * The DNS server's UDP sockets, two ways with one contract: every datagram goes to `handle`, whose
 * reply (now or later) goes back to the datagram's source.
 *
 * - batch: the native recvmmsg/sendmmsg socket (native/src/udp_batch.c). One call into JavaScript per
 *   batch of up to 32 datagrams and one syscall each way, instead of a syscall, a Buffer and an
 *   rinfo object per datagram. Used when the addon is built (Linux).
 * - dgram: node:dgram, everywhere else (or with KPATH_NATIVE=0).
 */
import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as net from 'node:net';
import type { NativeAddon } from '../native/load.js';

export type UdpReply = Uint8Array | undefined | Promise<Uint8Array | undefined>;

export interface UdpListener {
  readonly kind: 'batch' | 'dgram';
  readonly port: number;
  close(): Promise<void>;
}

export interface UdpListenOptions {
  readonly host: string;
  readonly port: number;
  /** Called once per datagram; must not keep `query` past a synchronous return (its memory is reused). */
  readonly handle: (query: Uint8Array) => UdpReply;
  /** A handler that threw, or a socket error after binding. */
  readonly onError: (e: unknown) => void;
}

/** Datagrams per batch, and the largest datagram (a UDP payload is at most 65,527 bytes). */
const SLOTS = 32;
const SLOT_SIZE = 65_536;
/** int32s of per-datagram metadata; see udp_batch.c. */
const META = 10;

/** The batch socket. Throws (with the errno name as `code`) when the bind fails. */
export function listenUdpBatch(addon: NativeAddon, opts: UdpListenOptions): UdpListener {
  const s = addon.udpOpen(opts.host, opts.port, SLOTS, SLOT_SIZE);
  const meta = new Int32Array(s.meta);
  const metaBytes = new Uint8Array(s.meta);
  const out = new Uint8Array(s.out);
  const sourceOf = (i: number): { port: number; host: string } => {
    const b = i * META;
    const a = (b + 4) * 4;
    if (meta[b + 3] === 4) return { port: meta[b + 2]!, host: metaBytes.subarray(a, a + 4).join('.') };
    const groups: string[] = [];
    for (let k = 0; k < 16; k += 2)
      groups.push(((metaBytes[a + k]! << 8) | metaBytes[a + k + 1]!).toString(16));
    return { port: meta[b + 2]!, host: groups.join(':') };
  };
  let closed = false;
  addon.udpStart(s.handle, (n: number) => {
    for (let i = 0; i < n; i++) {
      const b = i * META;
      try {
        const r = opts.handle(new Uint8Array(s.in, i * SLOT_SIZE, meta[b]!));
        if (r === undefined) continue;
        if (r instanceof Promise) {
          const to = sourceOf(i);
          r.then(
            (bytes) => {
              if (bytes && !closed) addon.udpSendTo(s.handle, bytes, to.port, to.host);
            },
            () => undefined,
          );
        } else if (r.length <= SLOT_SIZE) {
          out.set(r, i * SLOT_SIZE);
          meta[b + 8] = r.length;
        }
      } catch (e) {
        opts.onError(e);
      }
    }
  });
  return {
    kind: 'batch',
    port: s.port,
    close: async () => {
      closed = true;
      addon.udpClose(s.handle);
    },
  };
}

/** The node:dgram socket. */
export function listenUdpDgram(opts: UdpListenOptions): Promise<UdpListener> {
  return new Promise((resolve, reject) => {
    const family = opts.host.includes(':') ? 6 : 4;
    // Replies go to a datagram's source, always an IP literal: resolve it synchronously instead of
    // dgram's default dns.lookup, which defers every send by a process.nextTick (hot path).
    const lookup = (name: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void): void => {
      if (net.isIP(name)) cb(null, name, family);
      else dns.lookup(name, { family }, (e, a, f) => cb(e, a, f));
    };
    const sock = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', lookup });
    sock.once('error', reject);
    sock.on('message', (msg, rinfo) => {
      try {
        const r = opts.handle(msg);
        // No send callback: it would cost another nextTick per reply. A failed send is then emitted
        // as the socket's 'error' event, which goes to onError (installed once bound).
        const reply = (b: Uint8Array | undefined): void => {
          if (b) sock.send(b, rinfo.port, rinfo.address);
        };
        if (r instanceof Promise) r.then(reply, () => undefined);
        else reply(r);
      } catch (e) {
        opts.onError(e);
      }
    });
    sock.bind({ address: opts.host, port: opts.port, exclusive: true }, () => {
      sock.off('error', reject);
      sock.on('error', opts.onError);
      resolve({
        kind: 'dgram',
        port: sock.address().port,
        close: () => new Promise<void>((r) => sock.close(() => r())),
      });
    });
  });
}
