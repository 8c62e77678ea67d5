/**
 * The one place that opens sockets towards backends. Every upstream TCP connection and UDP flow is
 * created here, and each asserts that both its local and its remote address are loopback: the twin
 * plan guarantees it, and this is where a bug in that plan would otherwise reach a real network.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, isIPv4, type NetConnectOpts, type Socket } from 'node:net';
import { assert } from '../../netmodel/errors.js';
import type { NativeAddon } from '../native/load.js';

export function isLoopbackText(addr: string): boolean {
  if (isIPv4(addr)) return addr.startsWith('127.');
  return addr === '::1' || addr === '::ffff:127.0.0.1';
}

/** Addresses already checked (the twins a proxy dials from and to are few). */
const loopbackChecked = new Set<string>();

function assertLoopback(local: string, remote: string): void {
  if (loopbackChecked.has(remote) && loopbackChecked.has(local)) return;
  assert(isLoopbackText(remote), `upstream target ${remote} is not a loopback address`);
  assert(isLoopbackText(local), `upstream source ${local} is not a loopback address`);
  if (loopbackChecked.size >= 4096) loopbackChecked.clear();
  loopbackChecked.add(remote);
  loopbackChecked.add(local);
}

export interface DialOptions {
  readonly host: string;
  readonly port: number;
  readonly localAddress: string;
  readonly timeoutMs: number;
  readonly highWaterMark: number;
}

export type DialResult = { ok: true; socket: Socket } | { ok: false; code: string; message: string };

/** Where dialTcpFdTo reports: connected (descriptor, local port) or failed (errno name). */
export interface FdDialTarget {
  dialOk(fd: number, localPort: number): void;
  dialFailed(code: string): void;
}

/**
 * dialTcpThen on a raw descriptor (native/src/tcp_sockets.c), for the proxy's hot path: no net.Socket,
 * no options or result objects, one callback for the addon. On loopback the kernel usually finishes
 * the handshake inside connect(), and then `to` hears before this returns (the callback is never
 * called). keepalive is left to the relay.
 */
export function dialTcpFdTo(
  addon: NativeAddon,
  localAddress: string,
  host: string,
  port: number,
  timeoutMs: number,
  to: FdDialTarget,
): void {
  assertLoopback(localAddress, host);
  const now = addon.tcpConnect(
    localAddress,
    host,
    port,
    timeoutMs,
    (fd, code, localPort) => {
      if (fd >= 0) to.dialOk(fd, localPort);
      else to.dialFailed(code ?? 'ERROR');
    },
    0,
  );
  if (typeof now === 'number') to.dialOk(Math.floor(now / 65536), now % 65536);
  else if (now !== undefined) to.dialFailed(now);
}

/** Connect within timeoutMs. The socket is half-open capable and paused until the caller pipes it. */
export function dialTcp(o: DialOptions): Promise<DialResult> {
  return new Promise((resolve) => dialTcpThen(o, resolve));
}

/** dialTcp with a callback instead of a promise (no promise and microtask per connection). */
export function dialTcpThen(o: DialOptions, done: (r: DialResult) => void): void {
  assertLoopback(o.localAddress, o.host);
  const s = connect({
    host: o.host,
    port: o.port,
    localAddress: o.localAddress,
    allowHalfOpen: true,
    noDelay: true,
    highWaterMark: o.highWaterMark,
  } as NetConnectOpts);
  const timer = setTimeout(
    () => finish({ ok: false, code: 'ETIMEDOUT', message: `no answer within ${o.timeoutMs} ms` }),
    o.timeoutMs,
  );
  const onError = (e: NodeJS.ErrnoException) =>
    finish({ ok: false, code: e.code ?? 'ERROR', message: e.message });
  function finish(r: DialResult) {
    clearTimeout(timer);
    s.off('error', onError);
    s.off('connect', onConnect);
    if (!r.ok) s.destroy();
    done(r);
  }
  function onConnect() {
    s.pause();
    finish({ ok: true, socket: s });
  }
  s.on('error', onError);
  s.on('connect', onConnect);
}

/** A UDP socket bound to localAddress (any port) and connected to host:port. */
export function openUdpFlow(o: { host: string; port: number; localAddress: string }): Promise<UdpSocket> {
  assertLoopback(o.localAddress, o.host);
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const fail = (e: Error) => {
      s.close();
      reject(e);
    };
    s.once('error', fail);
    s.bind({ address: o.localAddress, port: 0 }, () => {
      s.connect(o.port, o.host, () => {
        s.off('error', fail);
        resolve(s);
      });
    });
  });
}
