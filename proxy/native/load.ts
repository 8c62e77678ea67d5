/**
 * kpath's optional native fast paths (native/, built by `npm run build:native` on Linux). Every user
 * has a pure-Node fallback: `nativeAddon()` is undefined when the addon is not built, cannot load, or
 * KPATH_NATIVE=0 turns it off.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

/** What native/src/udp_batch.c exports. */
export interface UdpBatchOpen {
  readonly handle: unknown;
  readonly port: number;
  readonly in: ArrayBuffer;
  readonly out: ArrayBuffer;
  readonly meta: ArrayBuffer;
}

export interface NativeAddon {
  udpOpen(host: string, port: number, slots: number, slotSize: number): UdpBatchOpen;
  udpStart(handle: unknown, onBatch: (n: number) => void): void;
  udpSendTo(handle: unknown, bytes: Uint8Array, port: number, host: string): 0 | string;
  udpStats(handle: unknown): { received: number; sent: number; sendDrops: number; batches: number };
  udpClose(handle: unknown): void;
  /** native/src/relay.c: the function every relay of this thread calls when it ends (set once). */
  relayOnClosed(onClosed: RelayClosed): void;
  /**
   * native/src/relay.c: relay both ways between two connected TCP sockets (copied while reads are
   * small, spliced once one fills the buffer); the relay takes the descriptors when `own`, else it
   * dups them. keepAliveSec (0: off): with `own`, set on the endpoint socket once the relay has
   * lasted a second; else on both at once. When it ends, onClosed (relayOnClosed) hears `token`
   * and the final counts: the one call back. `segs` (default true): read the two sockets' segment
   * counts (TCP_INFO) at the end; false (conntrack accounting off) skips both reads and onClosed
   * gets -1 for them. Returns the relay's handle (a number; stale once the relay has ended and been
   * freed).
   */
  relayStart(
    clientFd: number,
    upstreamFd: number,
    token: number,
    own?: boolean,
    keepAliveSec?: number,
    segs?: boolean,
  ): number;
  /**
   * [client->endpoint bytes, endpoint->client bytes, bytes in flight, ms since bytes last moved,
   *  segments the kernel received from the client, from the endpoint (TCP_INFO tcpi_segs_in, read
   *  now unless `segs` is false), FINs seen (RelayFin bits)]; undefined for a stale handle
   */
  relayBytes(
    handle: number,
    segs?: boolean,
  ): [number, number, number, number, number, number, number] | undefined;
  /** Close both sides now (reset: with RST); a stale handle is ignored. */
  relayClose(handle: number, reset: boolean): void;
  /** Empty pipes the relay keeps for reuse (two descriptors each). */
  relayPipePool(): number;
  /**
   * [engine, why, bufferWaits, backpressureStops, finsWithClose]: the engine new relays use,
   * "uring" (native/src/uring.c: the copy path through io_uring) or "epoll" (reactor.c: recv/send,
   * then splice), why (uring: with multishot receives, unless env KPATH_RELAY_MULTISHOT=0 or the
   * kernel lacks them), how many ring receives had to wait for a free buffer (env KPATH_RELAY_BUFS,
   * a power of two, sets the ring's buffer count; default 128), and how many multishot receives
   * were stopped because their sends fell behind. `which` chooses the engine first ("uring" falls
   * back to "epoll" when io_uring cannot be set up); otherwise env KPATH_RELAY (uring | epoll,
   * default uring) decides at the first relay. `multishot` (uring only) sets whether relays
   * started from now on use multishot receives. finsWithClose: FINs the ring engine passed on with
   * the relay's close instead of a shutdown of their own (the other side's FIN came in the same
   * batch of completions).
   */
  relayEngine(
    which?: 'uring' | 'epoll',
    multishot?: boolean,
  ): [
    engine: 'uring' | 'epoll',
    why: string,
    bufferWaits: number,
    backpressureStops: number,
    finsWithClose: number,
  ];
  /** native/src/tcp_sockets.c: a listener whose connections arrive as descriptors. */
  tcpListen(
    host: string,
    port: number,
    backlog: number,
    onAccept: (fd: number, peerHost: string, peerPort: number) => void,
    /** keepalive probes on accepted connections after this many idle seconds (0: off) */
    keepAliveSec?: number,
  ): { handle: unknown; port: number };
  tcpListenClose(handle: unknown): void;
  /**
   * A number: connected at once, fd * 65536 + localPort (onDone is not called); a string: failed at
   * once with that errno name; undefined: onDone will be called.
   */
  tcpConnect(
    srcHost: string,
    dstHost: string,
    dstPort: number,
    timeoutMs: number,
    onDone: (fd: number, code: string | undefined, localPort: number) => void,
    keepAliveSec?: number,
  ): number | string | undefined;
  /**
   * [engine, why, dials, slow]: how tcpConnect dials, "uring" (native/src/dial_ring.c: the
   * setsockopts, bind and connect in one io_uring submission, Linux 6.11) or "syscalls", and why;
   * `which` chooses first ("uring" stays "syscalls" where the ring cannot be set up); otherwise env
   * KPATH_DIAL (uring | syscalls, default uring) decides at the first dial. dials: through the ring
   * so far; slow: of them, connects that did not finish at once (waited for as on the syscall path);
   * accept: how tcpListen's listeners accept ("io_uring accept batches" on the same ring, up to 16
   * connections per io_uring_enter, Linux 6.10; else "accept4 ..."), connections accepted through
   * the ring, and in how many batches.
   */
  tcpDialEngine(
    which?: 'uring' | 'syscalls',
  ): [
    engine: 'uring' | 'syscalls',
    why: string,
    dials: number,
    slow: number,
    accept: string,
    accepts: number,
    acceptBatches: number,
  ];
  fdClose(fd: number, reset: boolean): void;
}

/** The relay started with `token` ended: why ("closed", "reset", "client ECONNRESET", ...) and its
 *  final counts (segments -1 when it was started with `segs` false). */
export type RelayClosed = (
  token: number,
  reason: string,
  bytesIn: number,
  bytesOut: number,
  segsIn: number,
  segsOut: number,
) => void;

/** relayBytes' FIN bits: the client's FIN was read, the endpoint's. */
export const RelayFin = { CLIENT: 1, ENDPOINT: 2 } as const;

let cached: { addon: NativeAddon | undefined; why: string } | undefined;

function findAddon(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'native', 'build', 'Release', 'kpath_native.node');
    if (existsSync(candidate)) return candidate;
    if (existsSync(join(dir, 'package.json'))) return undefined;
    dir = dirname(dir);
  }
  return undefined;
}

function load(): { addon: NativeAddon | undefined; why: string } {
  if (process.env.KPATH_NATIVE === '0') return { addon: undefined, why: 'turned off by KPATH_NATIVE=0' };
  if (process.platform !== 'linux') return { addon: undefined, why: `${process.platform} is not Linux` };
  const path = findAddon();
  if (!path) return { addon: undefined, why: 'not built (npm run build:native)' };
  try {
    return { addon: createRequire(import.meta.url)(path) as NativeAddon, why: `loaded from ${path}` };
  } catch (e) {
    return { addon: undefined, why: `cannot load ${path}: ${(e as Error).message}` };
  }
}

/** The addon, or undefined (see `nativeStatus()` for why). */
export function nativeAddon(): NativeAddon | undefined {
  cached ??= load();
  return cached.addon;
}

/** A line for logs: whether the native fast paths are in use, and why not. */
export function nativeStatus(): string {
  cached ??= load();
  return cached.why;
}

/** KPATH_RELAY's values: the native relay's engines (native/src/relay.c). */
export const RELAY_ENGINES = ['uring', 'epoll'] as const;

/** KPATH_DIAL's values: how the native dial reaches the kernel (native/src/dial_ring.c). */
export const DIAL_ENGINES = ['uring', 'syscalls'] as const;

/**
 * Throws a usage error when KPATH_RELAY is set to something other than an engine's name,
 * KPATH_RELAY_MULTISHOT to something other than 0 or 1, or KPATH_DIAL to something other than a
 * dial engine's name (the addon would otherwise take any of them for the default).
 */
export function checkRelayEnv(env: NodeJS.ProcessEnv = process.env): void {
  const v = env.KPATH_RELAY;
  if (v !== undefined && v !== '' && !(RELAY_ENGINES as readonly string[]).includes(v))
    throw new KpathError(
      ErrorCodes.USAGE,
      `KPATH_RELAY=${v}: expected ${RELAY_ENGINES.join(' or ')} (the native relay's engine; unset: uring where the kernel allows it)`,
    );
  const m = env.KPATH_RELAY_MULTISHOT;
  if (m !== undefined && m !== '' && m !== '0' && m !== '1')
    throw new KpathError(
      ErrorCodes.USAGE,
      `KPATH_RELAY_MULTISHOT=${m}: expected 0 or 1 (0: one io_uring receive per message; unset or 1: one multishot receive per direction)`,
    );
  const d = env.KPATH_DIAL;
  if (d !== undefined && d !== '' && !(DIAL_ENGINES as readonly string[]).includes(d))
    throw new KpathError(
      ErrorCodes.USAGE,
      `KPATH_DIAL=${d}: expected ${DIAL_ENGINES.join(' or ')} (how the native dial reaches the kernel; unset: uring where the kernel allows it)`,
    );
}
