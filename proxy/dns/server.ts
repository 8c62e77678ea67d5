/**
 * The kube-dns server: UDP and TCP listeners on loopback answering from a pure Answerer.
 *
 *   UDP datagram ─┐
 *                 ├─> answerer.answer(bytes) ─> drop | reply
 *   TCP frame ────┘        reply.forwardable && upstream ─> relay the query upstream (SERVFAIL on failure)
 *                          reply.chase && upstream      ─> look the CNAME target up, merge
 *
 * It never crashes on input: every handler is wrapped, every socket has an error handler. TCP is
 * bounded: idle timeout, frames are at most 65535 bytes by construction, at most `maxTcpInflight`
 * unanswered queries per connection, reading pauses while the peer does not drain its replies, and
 * at most `maxTcpConnections` connections.
 */
import * as net from 'node:net';
import type { Logger } from 'pino';
import type { Answerer, AnswerOutcome, Transport } from '../../netmodel/dns/answer.js';
import { createAnswerer, mergeChase } from '../../netmodel/dns/answer.js';
import type { DnsClusterView, ZoneOptions } from '../../netmodel/dns/view.js';
import { EDNS_SIZE, Flag, Rcode, RRClass } from '../../netmodel/dns/wire-constants.js';
import { encodeMessage, optRecord } from '../../netmodel/dns/wire-write.js';
import { buildZone } from '../../netmodel/dns/zone.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { nativeAddon, nativeStatus } from '../native/load.js';
import { exchangeTcp, exchangeUdp, parseUpstream, type Upstream } from './forward.js';
import { listenUdpBatch, listenUdpDgram, type UdpListener } from './udp-listener.js';

export interface DnsListen {
  /** A loopback address (127.0.0.0/8 or ::1). */
  readonly host: string;
  /** 0 picks a free port (the same one for UDP and TCP). */
  readonly port: number;
}

export interface DnsServerOptions {
  readonly listen: readonly DnsListen[];
  /** The cluster to answer for; or pass a ready `answerer`. */
  readonly view?: DnsClusterView;
  readonly zoneOptions?: ZoneOptions;
  readonly answerer?: Answerer;
  readonly logger: Logger;
  /** `ip:port` to forward names outside the cluster zones to (else REFUSED). Loopback only in tests. */
  readonly upstream?: string;
  /** Default both. */
  readonly protocols?: readonly Transport[];
  readonly tcpIdleTimeoutMs?: number;
  readonly maxTcpConnections?: number;
  readonly maxTcpInflight?: number;
  readonly upstreamTimeoutMs?: number;
  /** false: use node:dgram even when the native batch socket is built. Default: native when built. */
  readonly nativeUdp?: boolean;
}

export const DNS_SERVER_DEFAULTS = {
  /** ms; CoreDNS's idle timeout is 10 s */
  tcpIdleTimeoutMs: 10_000,
  /** connections */
  maxTcpConnections: 1024,
  /** unanswered queries per TCP connection (miekg's default cap on queries is 128) */
  maxTcpInflight: 128,
  /** ms */
  upstreamTimeoutMs: 2_000,
  /** bytes of replies queued on a TCP socket before reading pauses */
  tcpHighWater: 1 << 20,
} as const;

export interface DnsServerAddress {
  readonly protocol: Transport;
  readonly host: string;
  readonly port: number;
}

export interface DnsServerStats {
  queries: number;
  dropped: number;
  truncated: number;
  forwarded: number;
  errors: number;
  rcodes: Record<number, number>;
}

export interface DnsServer {
  readonly addresses: readonly DnsServerAddress[];
  readonly stats: DnsServerStats;
  /** How UDP is served: the native batch socket, node:dgram, or not at all. */
  readonly udpKind: 'batch' | 'dgram' | null;
  /** The answerer in use now. */
  answerer(): Answerer;
  /** Swap in a new cluster (or answerer) atomically: queries in flight finish on the old one. */
  reload(next: DnsClusterView | Answerer): void;
  close(): Promise<void>;
}

function isAnswerer(x: DnsClusterView | Answerer): x is Answerer {
  return typeof (x as Answerer).answer === 'function';
}

function withRcode(reply: Uint8Array, rcode: number): Uint8Array {
  const out = reply.slice();
  out[3] = (out[3]! & 0xf0) | (rcode & 0xf);
  out[2] = out[2]! & ~(Flag.AA >>> 8);
  return out;
}

/** Start listening. Rejects with KPATH_E_LISTEN naming the address when a bind fails. */
export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  // Under a pod's logger (component "pods") the server is named by `server`: no key twice in a line.
  const log =
    'component' in opts.logger.bindings()
      ? opts.logger.child({ server: 'dns' })
      : opts.logger.child({ component: 'dns' });
  const zoneOptions = opts.zoneOptions ?? {};
  const make = (next: DnsClusterView | Answerer): Answerer =>
    isAnswerer(next) ? next : createAnswerer(buildZone(next, zoneOptions));
  if (!opts.answerer && !opts.view)
    throw new KpathError(ErrorCodes.USAGE, 'startDnsServer needs a view or an answerer');
  let current: Answerer = opts.answerer ?? make(opts.view!);
  const upstream: Upstream | undefined = opts.upstream ? parseUpstream(opts.upstream) : undefined;
  const protocols = opts.protocols ?? ['udp', 'tcp'];
  const idleMs = opts.tcpIdleTimeoutMs ?? DNS_SERVER_DEFAULTS.tcpIdleTimeoutMs;
  const maxConns = opts.maxTcpConnections ?? DNS_SERVER_DEFAULTS.maxTcpConnections;
  const maxInflight = opts.maxTcpInflight ?? DNS_SERVER_DEFAULTS.maxTcpInflight;
  const upTimeout = opts.upstreamTimeoutMs ?? DNS_SERVER_DEFAULTS.upstreamTimeoutMs;
  const stats: DnsServerStats = { queries: 0, dropped: 0, truncated: 0, forwarded: 0, errors: 0, rcodes: {} };

  const count = (o: AnswerOutcome): void => {
    stats.queries++;
    if (o.kind === 'drop') {
      stats.dropped++;
      return;
    }
    stats.rcodes[o.rcode] = (stats.rcodes[o.rcode] ?? 0) + 1;
    if (o.bytes.length > 2 && (o.bytes[2]! & (Flag.TC >>> 8)) !== 0) stats.truncated++;
  };

  /** The reply to send, sync when possible. undefined = send nothing. */
  const handle = (
    query: Uint8Array,
    transport: Transport,
  ): Uint8Array | undefined | Promise<Uint8Array | undefined> => {
    const o = current.answer(query, transport);
    count(o);
    if (o.kind === 'drop') return undefined;
    if (upstream && o.forwardable) {
      stats.forwarded++;
      // The query's memory may be reused once this returns (the batch socket's arena): keep a copy.
      query = new Uint8Array(query);
      const ex = transport === 'tcp' ? exchangeTcp : exchangeUdp;
      return ex(upstream, query, upTimeout).then((r) => {
        if (!r || r.length < 12) return withRcode(o.bytes, Rcode.SERVFAIL);
        const out = new Uint8Array(r);
        out[0] = query[0]!;
        out[1] = query[1]!;
        return out;
      });
    }
    if (upstream && o.chase) {
      const chase = o.chase;
      query = new Uint8Array(query);
      const q = encodeMessage({
        id: (query[0]! << 8) | query[1]!,
        flags: Flag.RD,
        questions: [{ name: chase.target, type: chase.type, class: RRClass.IN }],
        answers: [],
        authority: [],
        additional: [optRecord(EDNS_SIZE)],
      });
      const ex = transport === 'tcp' ? exchangeTcp : exchangeUdp;
      return ex(upstream, q.bytes, upTimeout).then((r) => {
        try {
          return mergeChase(o.bytes, r, o.maxSize);
        } catch {
          return o.bytes;
        }
      });
    }
    return o.bytes;
  };

  const udpSockets: UdpListener[] = [];
  const tcpServers: net.Server[] = [];
  const conns = new Set<net.Socket>();
  const addresses: DnsServerAddress[] = [];

  const onTcpConnection = (sock: net.Socket): void => {
    if (conns.size >= maxConns) {
      sock.destroy();
      return;
    }
    conns.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(idleMs, () => sock.destroy());
    sock.on('error', () => sock.destroy());
    sock.on('close', () => conns.delete(sock));
    let pending: Buffer = Buffer.alloc(0);
    let inflight = 0;
    let paused = false;
    const maybeResume = (): void => {
      if (paused && inflight < maxInflight && sock.writableLength < DNS_SERVER_DEFAULTS.tcpHighWater) {
        paused = false;
        sock.resume();
      }
    };
    const send = (reply: Uint8Array | undefined): void => {
      if (!reply || sock.destroyed) return;
      const framed = Buffer.allocUnsafe(reply.length + 2);
      framed.writeUInt16BE(reply.length, 0);
      framed.set(reply, 2);
      sock.write(framed);
    };
    sock.on('drain', maybeResume);
    sock.on('data', (chunk: Buffer) => {
      try {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        let off = 0;
        while (pending.length - off >= 2) {
          const len = pending.readUInt16BE(off);
          if (pending.length - off - 2 < len) break;
          const msg = pending.subarray(off + 2, off + 2 + len);
          off += 2 + len;
          const r = handle(msg, 'tcp');
          if (r instanceof Promise) {
            inflight++;
            r.then(send, () => undefined).finally(() => {
              inflight--;
              maybeResume();
            });
          } else send(r);
        }
        // Keep only the unconsumed tail (at most one partial frame: < 65537 bytes).
        pending = off === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(off));
        if (inflight >= maxInflight || sock.writableLength >= DNS_SERVER_DEFAULTS.tcpHighWater) {
          paused = true;
          sock.pause();
        }
      } catch (e) {
        stats.errors++;
        log.warn({ err: e }, 'dns tcp handler failed; connection closed');
        sock.destroy();
      }
    });
  };

  const bindTcp = (host: string, port: number): Promise<net.Server> =>
    new Promise((resolve, reject) => {
      const srv = net.createServer(onTcpConnection);
      srv.once('error', reject);
      srv.listen({ host, port, exclusive: true }, () => {
        srv.off('error', reject);
        srv.on('error', (e) => log.warn({ err: e }, 'dns tcp listener error'));
        resolve(srv);
      });
    });

  const onUdpError = (e: unknown): void => {
    stats.errors++;
    log.warn({ err: e }, 'dns udp handler failed');
  };
  const bindUdp = async (host: string, port: number): Promise<UdpListener> => {
    const o = { host, port, handle: (q: Uint8Array) => handle(q, 'udp'), onError: onUdpError };
    const addon = opts.nativeUdp === false ? undefined : nativeAddon();
    return addon ? listenUdpBatch(addon, o) : listenUdpDgram(o);
  };

  const closeAll = async (): Promise<void> => {
    for (const c of conns) c.destroy();
    await Promise.all([
      ...tcpServers.map((s) => new Promise<void>((r) => s.close(() => r()))),
      ...udpSockets.map((s) => s.close()),
    ]);
  };

  try {
    for (const l of opts.listen) {
      let port = l.port;
      for (let attempt = 0; ; attempt++) {
        try {
          let tcp: net.Server | undefined;
          if (protocols.includes('tcp')) {
            tcp = await bindTcp(l.host, port);
            port = (tcp.address() as net.AddressInfo).port;
          }
          try {
            if (protocols.includes('udp')) {
              const u = await bindUdp(l.host, port);
              udpSockets.push(u);
              port = u.port;
              addresses.push({ protocol: 'udp', host: l.host, port });
            }
          } catch (e) {
            if (tcp) await new Promise<void>((r) => tcp.close(() => r()));
            throw e;
          }
          if (tcp) {
            tcpServers.push(tcp);
            addresses.push({ protocol: 'tcp', host: l.host, port });
          }
          break;
        } catch (e) {
          // An ephemeral TCP port may be taken for UDP: try another, a few times.
          if (l.port === 0 && attempt < 10 && (e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
            port = 0;
            continue;
          }
          throw e;
        }
      }
    }
  } catch (e) {
    await closeAll();
    const err = e as NodeJS.ErrnoException;
    throw new KpathError(
      ErrorCodes.LISTEN,
      `dns server cannot listen on ${opts.listen.map((l) => `${l.host}:${l.port}`).join(', ')}: ${err.code ?? err.message}` +
        (err.code === 'EACCES' ? ' (ports below 1024 need privileges; pick a port >= 1024)' : '') +
        (err.code === 'EADDRINUSE' ? ' (another process holds it; pick another port or stop it)' : ''),
      { cause: e },
    );
  }
  log.info(
    {
      addresses,
      upstream: opts.upstream ?? null,
      problems: current.zone.problems.length,
      udp: udpSockets[0]?.kind ?? null,
      native: nativeStatus(),
    },
    'dns server listening',
  );

  return {
    addresses,
    stats,
    udpKind: udpSockets[0]?.kind ?? null,
    answerer: () => current,
    reload(next) {
      const a = make(next);
      current = a;
      log.info({ services: a.zone.services.size, problems: a.zone.problems.length }, 'dns zone reloaded');
    },
    close: closeAll,
  };
}
