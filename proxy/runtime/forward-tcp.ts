/**
 * One accepted TCP connection, from decision to close:
 *
 *   accept (client paused)
 *   ├─ over maxConnections ........................ reset the client
 *   ├─ mode.decide(flow, 0)
 *   │   ├─ reject ................................. reset the client at once
 *   │   ├─ drop ................................... hold it unanswered (see below), then close
 *   │   └─ forward -> dial endpoint twin from source twin, timeout dialTimeoutsMs[0]
 *   │        └─ failed -> decide(flow, 1..n-1), next timeout; all failed -> reset the client
 *   └─ connected: relay both ways (backpressure), half-close passes through (allowHalfOpen),
 *      a reset on either side resets the other, an idle timeout closes both; on close: one log line.
 *      The relay is the kernel's (splice, native/src/relay.c, which takes over both descriptors and
 *      the JavaScript sockets are let go) when the native addon is built, else Node's stream pipe.
 *
 * A dropped connection differs from the kernel's DROP: the proxy has already accepted the TCP
 * handshake, so the client sees an established connection that never answers (until dropHoldMs),
 * not a connect timeout. A rejected one is a reset after the handshake, not ECONNREFUSED.
 */

import type { Socket } from 'node:net';
import { TABLE_FULL_MESSAGE } from '../../netmodel/conntrack/index.js';
import { type NativeAddon, nativeAddon } from '../native/load.js';
import type { LiveConnection, RelayCounts } from './conntrack.js';
import { flowFor } from './flow.js';
import { type ForwardContext, keepAliveSeconds, type ListenerTarget } from './forward-context.js';
import type { EndpointCounts } from './metrics.js';
import type { Decision, FlowRequest, ProxyMode } from './modes/types.js';
import { type DialResult, dialTcpFdTo, dialTcpThen } from './upstream.js';

type Forward = Extract<Decision, { kind: 'forward' }>;

/** The connection a socket belongs to. Set on both sockets so that the event handlers below are
 *  shared functions (`this` is the socket) instead of closures made per connection. */
const kConn = Symbol('kpath.tcpConn');
type ConnSocket = Socket & { [kConn]?: TcpConn };

/**
 * One client connection: in ctx.open from accept until it is gone (before the dial it can only
 * destroy the client; once spliced, both sockets).
 */
class TcpConn implements RelayCounts {
  up: Socket | undefined = undefined;
  forwarded: Forward | undefined = undefined;
  counts: EndpointCounts | undefined = undefined;
  attempt = 0;
  closed = 0;
  how = 'closed';
  dropTimer: NodeJS.Timeout | undefined = undefined;
  /** The native relay's handle once the kernel relays this connection. */
  relay: number | undefined = undefined;
  /** A dialed descriptor this connection still has to close (-1: none, or the relay owns it). */
  upFd = -1;
  idleTimer: NodeJS.Timeout | undefined = undefined;
  /** The decision being dialled natively (its result comes back to dialOk / dialFailed). */
  dialing: Forward | undefined = undefined;
  /** Index in ctx.open (SlotSet). */
  slot = -1;

  constructor(
    readonly ctx: ForwardContext,
    readonly client: Socket | FdClient,
    readonly flow: FlowRequest,
    readonly mode: ProxyMode,
    readonly entry: LiveConnection,
  ) {}

  destroy(): void {
    if (this.relay !== undefined) {
      relayAddon!.relayClose(this.relay, false);
      return;
    }
    this.client.destroy();
    this.up?.destroy();
  }

  buffered(): number {
    if (this.relay !== undefined) return relayAddon!.relayBytes(this.relay, false)?.[2] ?? 0;
    const c = this.client;
    if (c instanceof FdClient) return 0;
    const u = this.up;
    return c.writableLength + c.readableLength + (u ? u.writableLength + u.readableLength : 0);
  }

  /** The connection is over: out of the open set and the live table; the mode hears about it. */
  gone(): void {
    const ctx = this.ctx;
    ctx.open.delete(this);
    ctx.conntrack.close(this.entry);
    const d = this.forwarded;
    if (d && this.mode.closed) {
      this.forwarded = undefined;
      try {
        this.mode.closed(this.flow, d);
      } catch (e) {
        ctx.log.warn(
          { svc: this.entry.service, err: (e as Error).message },
          'mode could not record the closed connection',
        );
      }
    }
  }

  clientText(): string {
    return `${this.flow.client.ip.text}:${this.flow.client.port}`;
  }

  /** Decide and dial attempt number `this.attempt`; on to the next attempt when it cannot forward. */
  next(): void {
    const { ctx, client, mode } = this;
    const svc = this.entry.service;
    const timeouts = mode.dialTimeoutsMs;
    for (; this.attempt < timeouts.length; this.attempt++) {
      const attempt = this.attempt;
      if (client.destroyed) return;
      const d = mode.decide(this.flow, attempt);
      if (d.kind === 'reject') {
        ctx.metrics.verdicts.inc({ service: svc, verdict: 'reject' });
        if (ctx.log.isLevelEnabled('debug'))
          ctx.log.debug({ svc, client: this.clientText(), reason: d.reason }, 'connection rejected');
        client.resetAndDestroy();
        return;
      }
      if (d.kind === 'drop') {
        ctx.metrics.verdicts.inc({ service: svc, verdict: 'drop' });
        // The kernel says this one in its log (dmesg), whatever the log level.
        if (d.reason === TABLE_FULL_MESSAGE) ctx.log.warn({ svc, client: this.clientText() }, d.reason);
        else if (ctx.log.isLevelEnabled('debug'))
          ctx.log.debug({ svc, client: this.clientText(), reason: d.reason }, 'connection dropped');
        this.dropTimer = setTimeout(() => client.destroy(), ctx.limits.dropHoldMs);
        return;
      }
      const twins = ctx.twins();
      const host = twins.toLoopback(d.endpoint.ip);
      const local = twins.toLoopback(d.source);
      if (!host || !local) {
        const epKey = `${d.endpoint.ip.text}:${d.endpoint.port}`;
        ctx.metrics.connectErrors.inc({ service: svc, endpoint: epKey, reason: 'NOTWIN' });
        ctx.log.warn(
          { svc, endpoint: epKey, source: d.source.text },
          'endpoint or source has no loopback twin; cannot forward',
        );
        continue;
      }
      if (attempt > 0) ctx.metrics.retries.inc({ service: svc });
      if (client instanceof FdClient) {
        // The native path: no options or result objects; the outcome comes back to this connection.
        // The relay sets the endpoint's keepalive once the connection has lasted a second
        // (native/src/relay.c): short connections skip two setsockopt calls.
        this.dialing = d;
        dialTcpFdTo(relayAddon!, local.text, host.text, d.endpoint.port, timeouts[attempt]!, this);
        return;
      }
      const dial = {
        host: host.text,
        port: d.endpoint.port,
        localAddress: local.text,
        timeoutMs: timeouts[attempt]!,
        highWaterMark: ctx.limits.highWaterMark,
      };
      dialTcpThen(dial, (r) => this.dialed(d, r));
      return;
    }
    ctx.metrics.verdicts.inc({ service: svc, verdict: 'exhausted' });
    ctx.log.info(
      { svc, client: this.clientText(), attempts: timeouts.length },
      'failed to connect to an endpoint; client reset',
    );
    client.resetAndDestroy();
  }

  /** A Node dial's result (net.Socket). */
  dialed(d: Forward, r: DialResult): void {
    if (!r.ok) {
      this.failedDial(d, r.code);
      return;
    }
    if (this.client.destroyed) {
      r.socket.destroy();
      return;
    }
    this.established(d, r.socket.localPort ?? 0);
    this.splice(r.socket);
  }

  /** A dial failed: counted, then the next attempt (or the client reset when none is left). */
  failedDial(d: Forward, code: string): void {
    const { ctx, entry } = this;
    const epKey = `${d.endpoint.ip.text}:${d.endpoint.port}`;
    ctx.metrics.connectErrors.inc({ service: entry.service, endpoint: epKey, reason: code });
    if (ctx.log.isLevelEnabled('debug'))
      ctx.log.debug({ svc: entry.service, endpoint: epKey, attempt: this.attempt, code }, 'dial failed');
    this.attempt++;
    this.next();
  }

  /** Connected to the endpoint from `localPort`: the live entry gets its reply tuple. */
  established(d: Forward, localPort: number): void {
    const { ctx, entry } = this;
    const counts = ctx.metrics.endpointAt(entry.service, d.endpoint.ip.text, d.endpoint.port, 'TCP');
    this.counts = counts;
    entry.endpoint = counts.endpoint;
    entry.reply = { src: d.endpoint.ip.text, sport: d.endpoint.port, dst: d.source.text, dport: localPort };
    entry.state = 'ESTABLISHED';
    this.forwarded = d;
  }

  /**
   * A native dial connected (FdDialTarget). Called from the addon, where an exception would only be
   * cleared: a bug here must still close what this connection holds and say so.
   */
  dialOk(fd: number, localPort: number): void {
    this.upFd = fd;
    const d = this.dialing!;
    this.dialing = undefined;
    try {
      const client = this.client as FdClient;
      if (client.destroyed) {
        relayAddon!.fdClose(fd, false);
        this.upFd = -1;
        return;
      }
      this.established(d, localPort);
      this.relayFds(client, fd);
    } catch (e) {
      this.dialCrashed(e as Error);
    }
  }

  /** A native dial failed (FdDialTarget); the code is the errno name. */
  dialFailed(code: string): void {
    const d = this.dialing!;
    this.dialing = undefined;
    try {
      this.failedDial(d, code);
    } catch (e) {
      this.dialCrashed(e as Error);
    }
  }

  private dialCrashed(e: Error): void {
    this.ctx.log.error(
      { svc: this.entry.service, err: e.message },
      'connection handling failed; client reset',
    );
    if (this.upFd >= 0) {
      relayAddon!.fdClose(this.upFd, true);
      this.upFd = -1;
    }
    if (this.relay !== undefined) relayAddon!.relayClose(this.relay, true);
    else this.client.resetAndDestroy();
  }

  /** The native path: both ends are descriptors; the relay takes them. */
  relayFds(client: FdClient, upFd: number): void {
    const ctx = this.ctx;
    ctx.metrics.opened(this.counts!);
    const addon = relayAddon!;
    try {
      // Both descriptors already have TCP_NODELAY, the client its keepalive (the listener's); the
      // relay sets the endpoint's once the connection has lasted a second.
      this.relay = startRelay(addon, this, client.fd, upFd, true, keepAliveSeconds(ctx.limits));
    } catch (e) {
      ctx.log.warn({ err: (e as Error).message }, 'native relay refused the connection; closed');
      addon.fdClose(upFd, true);
      this.upFd = -1;
      client.handedOver();
      addon.fdClose(client.fd, true);
      this.finished();
      return;
    }
    this.upFd = -1; // the relay's now
    client.handedOver();
    this.relaying();
  }

  splice(up: Socket): void {
    const { ctx, entry } = this;
    const client = this.client as Socket;
    this.up = up;
    (up as ConnSocket)[kConn] = this;
    entry.sources = [client, up];
    ctx.metrics.opened(this.counts!);
    const l = ctx.limits;
    for (const s of [client, up]) {
      s.setNoDelay(true);
      if (l.keepAliveMs > 0) s.setKeepAlive(true, l.keepAliveMs);
    }
    if (l.nativeRelay && this.handOff(up)) return;
    for (const s of [client, up]) {
      if (l.idleTimeoutMs > 0) {
        s.setTimeout(l.idleTimeoutMs);
        s.on('timeout', onTimeout);
      }
    }
    client.on('end', onClientEnd);
    up.on('end', onUpEnd);
    up.on('error', onUpError);
    up.on('close', onUpClose);
    client.pipe(up);
    up.pipe(client);
  }

  /**
   * Give both sockets to the kernel relay. The descriptors are duplicated into the relay, then the
   * JavaScript sockets are closed (the connections stay open: the relay holds them). False when the
   * addon is missing or JavaScript already holds unsent bytes; the stream pipe is used then.
   */
  handOff(up: Socket): boolean {
    const addon = relayAddon;
    const client = this.client as Socket;
    const cfd = fdOf(client);
    const ufd = fdOf(up);
    if (!addon || cfd < 0 || ufd < 0) return false;
    if (client.readableLength > 0 || up.readableLength > 0 || client.writableLength > 0) return false;
    try {
      this.relay = startRelay(addon, this, cfd, ufd, false, 0);
    } catch (e) {
      this.ctx.log.warn({ err: (e as Error).message }, 'native relay refused the connection; using streams');
      return false;
    }
    this.relaying();
    client.removeListener('close', onClientClose);
    client.removeListener('error', onClientError);
    up.removeListener('error', onUpError);
    client.on('error', ignore);
    up.on('error', ignore);
    client.destroy();
    up.destroy();
    this.up = undefined;
    return true;
  }

  /** The relay has the connection: the live entry reads its counters, the idle timeout watches it. */
  relaying(): void {
    this.entry.sources = this;
    const idleMs = this.ctx.limits.idleTimeoutMs;
    if (idleMs > 0) this.armIdle(idleMs);
  }

  /** The kernel relay's idle timeout: check when it could first expire, then as often as needed. */
  armIdle(waitMs: number): void {
    this.idleTimer = setTimeout(() => {
      if (this.relay === undefined) return;
      const limit = this.ctx.limits.idleTimeoutMs;
      const idle = relayAddon!.relayBytes(this.relay, false)?.[3];
      if (idle === undefined) return;
      if (idle >= limit) {
        this.how = 'idle timeout';
        relayAddon!.relayClose(this.relay, false);
      } else this.armIdle(limit - idle);
    }, waitMs);
    this.idleTimer.unref();
  }

  /** The live entry's counters and FINs, read from the relay in one call (RelayCounts). */
  read(segs: boolean): readonly [number, number, number, number, number] | undefined {
    if (this.relay === undefined) return undefined;
    const v = relayAddon!.relayBytes(this.relay, segs);
    return v && [v[0], v[1], v[4], v[5], v[6]];
  }

  /** The relay ended (closed, reset, idle timeout, or by kpath): its final counts. */
  relayClosed(reason: string, o: number, r: number, so: number, sr: number): void {
    const e = this.entry;
    e.sources = undefined;
    e.orig.bytes = o;
    e.repl.bytes = r;
    // -1: the relay did not read them (accounting off).
    if (so >= 0) e.orig.packets = so;
    if (sr >= 0) e.repl.packets = sr;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.how === 'closed' && reason !== 'closed') this.how = reason;
    this.finished();
  }

  /** One side closed: it can take no more data, so if the other still has some to send, nobody will
   *  read it. When both have closed, the connection is gone. */
  sideClosed(other: Socket): void {
    if (!other.destroyed) {
      if (other.readableEnded) other.end();
      else other.destroy();
    }
    if (++this.closed < 2) return;
    this.finished();
  }

  /** Both directions are over: out of the tables, into the metrics, one log line. */
  finished(): void {
    const { ctx, entry } = this;
    // Closed with FINs (by the peers, an idle timeout or kpath): the kernel's entry would move to
    // TIME_WAIT. Ended by a reset or an error on either side: to CLOSE.
    const reset = this.how === 'reset' || this.how.startsWith('client ') || this.how.startsWith('endpoint ');
    entry.state = reset ? 'CLOSE' : 'TIME_WAIT';
    this.gone();
    ctx.metrics.closedConnection(this.counts!, entry.orig.bytes, entry.repl.bytes);
    if (ctx.log.isLevelEnabled('debug'))
      ctx.log.debug(
        {
          svc: entry.service,
          client: `${entry.original.src}:${entry.original.sport}`,
          endpoint: entry.endpoint,
          bytesIn: entry.orig.bytes,
          bytesOut: entry.repl.bytes,
          durationMs: ctx.clock.now() - entry.startedAt,
          how: this.how,
          relay: this.relay !== undefined ? 'kernel' : 'streams',
        },
        'connection closed',
      );
  }
}

const relayAddon: NativeAddon | undefined = nativeAddon();

/**
 * The connections the native relay carries, by the token each relay was started with: the addon
 * calls one function (relayOnClosed) for every relay's end, naming the token, so a connection costs
 * no callback object or reference. A token is a slot of `conns` (free slots are reused: a relay's end
 * comes once, and frees its slot), so no hash table churns per connection (see slot-set.ts for why
 * that matters). Kept on globalThis so that a second copy of this module (a test runner's fresh
 * module graph in the same thread, where the addon is shared) uses the same tokens.
 */
interface RelayTable {
  /** by token; undefined: free */
  conns: (TcpConn | undefined)[];
  /** free tokens, reused last-freed first */
  free: number[];
  listening: boolean;
}
const kRelayTable = Symbol.for('kpath.relayTable.slots');
const relayGlobal = globalThis as Record<symbol, RelayTable | undefined>;
const relayTable: RelayTable = relayGlobal[kRelayTable] ?? { conns: [], free: [], listening: false };
relayGlobal[kRelayTable] = relayTable;

function onRelayClosed(token: number, reason: string, o: number, r: number, so: number, sr: number): void {
  const t = relayTable;
  const c = t.conns[token];
  if (c === undefined) return;
  t.conns[token] = undefined;
  t.free.push(token);
  c.relayClosed(reason, o, r, so, sr);
}

/** relayStart for `conn`; its end comes back to conn.relayClosed. */
function startRelay(
  addon: NativeAddon,
  conn: TcpConn,
  clientFd: number,
  upFd: number,
  own: boolean,
  keepAliveSec: number,
): number {
  const t = relayTable;
  if (!t.listening) {
    addon.relayOnClosed(onRelayClosed);
    t.listening = true;
  }
  const token = t.free.length > 0 ? t.free.pop()! : t.conns.length;
  // Before the start: a relay whose descriptors fail at once ends inside relayStart.
  t.conns[token] = conn;
  try {
    // The last argument (`segs`): read the sockets' segment counts (TCP_INFO) at the end only
    // when conntrack accounting shows them.
    return addon.relayStart(clientFd, upFd, token, own, keepAliveSec, conn.ctx.conntrack.acct);
  } catch (e) {
    if (t.conns[token] === conn) {
      t.conns[token] = undefined;
      t.free.push(token);
    }
    throw e;
  }
}

/**
 * A client connection accepted natively (native/src/tcp_sockets.c): a descriptor, held paused while
 * the decision and the dial run, until the relay takes it. The methods TcpConn uses on a net.Socket.
 */
class FdClient {
  destroyed = false;
  /** Told (gone) once when kpath closes the descriptor before the relay took it. */
  conn: TcpConn | undefined = undefined;
  constructor(readonly fd: number) {}
  resetAndDestroy(): void {
    this.end(true);
  }
  destroy(): void {
    this.end(false);
  }
  /** The relay owns the descriptor now: nothing here may close it. */
  handedOver(): void {
    this.destroyed = true;
    this.conn = undefined;
  }
  private end(reset: boolean): void {
    if (this.destroyed) return;
    this.destroyed = true;
    relayAddon!.fdClose(this.fd, reset);
    const c = this.conn;
    this.conn = undefined;
    c?.gone();
  }
}

function ignore(): void {}

/** A connected net.Socket's descriptor (libuv's), or -1. */
function fdOf(s: Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

// Handlers shared by every connection; `this` is the socket that emitted the event.

function onClientError(this: ConnSocket, e: NodeJS.ErrnoException): void {
  // Before the splice the stage that owns the socket handles it; never crash the proxy.
  const c = this[kConn];
  const up = c?.up;
  if (!up) return;
  c.how = `client ${e.code ?? 'error'}`;
  if (!up.destroyed) up.resetAndDestroy();
}

function onUpError(this: ConnSocket, e: NodeJS.ErrnoException): void {
  const c = this[kConn]!;
  c.how = `endpoint ${e.code ?? 'error'}`;
  if (!c.client.destroyed) c.client.resetAndDestroy();
}

function onClientClose(this: ConnSocket): void {
  const c = this[kConn]!;
  if (c.dropTimer) clearTimeout(c.dropTimer);
  if (!c.up) c.gone();
  else c.sideClosed(c.up);
}

function onUpClose(this: ConnSocket): void {
  const c = this[kConn]!;
  c.sideClosed(c.client as Socket);
}

function onClientEnd(this: ConnSocket): void {
  const e = this[kConn]!.entry;
  e.state = e.state === 'CLOSE_WAIT' ? 'TIME_WAIT' : 'FIN_WAIT';
}

function onUpEnd(this: ConnSocket): void {
  const e = this[kConn]!.entry;
  e.state = e.state === 'FIN_WAIT' ? 'TIME_WAIT' : 'CLOSE_WAIT';
}

/**
 * Idle in both directions for idleTimeoutMs. A socket's own timer is refreshed by its reads and by
 * its writes, and pipe() writes every chunk read on one socket to the other at once, so either
 * socket's timer firing means no data moved either way for idleTimeoutMs.
 */
function onTimeout(this: ConnSocket): void {
  const c = this[kConn]!;
  c.how = 'idle timeout';
  c.client.destroy();
  c.up?.destroy();
}

/** A connection accepted by a node:net server. */
export function handleTcp(ctx: ForwardContext, target: ListenerTarget, client: Socket): void {
  client.pause();
  client.on('error', onClientError);
  const conn = accepted(ctx, target, client, client.remoteAddress, client.remotePort);
  if (!conn) return;
  (client as ConnSocket)[kConn] = conn;
  client.on('close', onClientClose);
  conn.next();
}

/** A connection accepted natively: a descriptor and the peer's address. */
export function handleTcpFd(
  ctx: ForwardContext,
  target: ListenerTarget,
  fd: number,
  peerHost: string,
  peerPort: number,
): void {
  const client = new FdClient(fd);
  try {
    const conn = accepted(ctx, target, client, peerHost, peerPort);
    if (!conn) return;
    client.conn = conn;
    conn.next();
  } catch (e) {
    // Called from the addon's accept loop: never leave the descriptor behind, never go silent.
    ctx.log.error(
      { svc: target.servicePort, err: (e as Error).message },
      'connection handling failed; client reset',
    );
    client.resetAndDestroy();
  }
}

/** The part of accepting that both listeners share: the flow, the limit, the live entry. */
function accepted(
  ctx: ForwardContext,
  target: ListenerTarget,
  client: Socket | FdClient,
  remoteAddress: string | undefined,
  remotePort: number | undefined,
): TcpConn | undefined {
  const flow = flowFor(ctx, target, remoteAddress, remotePort);
  const svc = target.servicePort;
  if (!flow) {
    client.resetAndDestroy();
    return undefined;
  }
  if (ctx.limits.maxConnections > 0 && ctx.open.size >= ctx.limits.maxConnections) {
    ctx.metrics.verdicts.inc({ service: svc, verdict: 'limit' });
    client.resetAndDestroy();
    return undefined;
  }
  const mode = ctx.mode();
  const entry = ctx.conntrack.open({
    protocol: 'tcp',
    original: {
      src: flow.client.ip.text,
      sport: flow.client.port,
      dst: flow.destination.ip.text,
      dport: flow.destination.port,
    },
    state: 'SYN_SENT',
    service: svc,
    entryNode: flow.entryNode,
    mode: mode.name,
  });
  const conn = new TcpConn(ctx, client, flow, mode, entry);
  ctx.open.add(conn);
  return conn;
}
