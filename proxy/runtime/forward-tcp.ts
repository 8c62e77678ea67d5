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
 *   └─ connected: pipe both ways (backpressure), half-close passes through (allowHalfOpen),
 *      a reset on either side resets the other, an idle timeout closes both; on close: one log line.
 *
 * A dropped connection differs from the kernel's DROP: the proxy has already accepted the TCP
 * handshake, so the client sees an established connection that never answers (until dropHoldMs),
 * not a connect timeout. A rejected one is a reset after the handshake, not ECONNREFUSED.
 */
import type { Socket } from 'node:net';
import type { LiveConnection } from './conntrack.js';
import { flowFor } from './flow.js';
import type { ForwardContext, ListenerTarget } from './forward-context.js';
import type { Decision } from './modes/types.js';
import { dialTcp } from './upstream.js';

export function handleTcp(ctx: ForwardContext, target: ListenerTarget, client: Socket): void {
  client.pause();
  client.on('error', () => {}); // handled by the stage that owns the socket; never crash the proxy
  const flow = flowFor(ctx, target, client.remoteAddress, client.remotePort);
  const svc = target.servicePort;
  if (!flow) {
    client.resetAndDestroy();
    return;
  }
  if (ctx.limits.maxConnections > 0 && ctx.open.size >= ctx.limits.maxConnections) {
    ctx.metrics.verdicts.inc({ service: svc, verdict: 'limit' });
    client.resetAndDestroy();
    return;
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
    timeoutSeconds: 120,
  });
  const pair = {
    destroy: () => client.destroy(),
    buffered: () => client.writableLength + client.readableLength,
  };
  ctx.open.add(pair);
  const started = ctx.clock.now();
  let forwarded: Extract<Decision, { kind: 'forward' }> | undefined;
  const gone = () => {
    ctx.open.delete(pair);
    ctx.conntrack.close(entry);
    if (forwarded && mode.closed) {
      const d = forwarded;
      forwarded = undefined;
      try {
        mode.closed(flow, d);
      } catch (e) {
        ctx.log.warn({ svc, err: (e as Error).message }, 'mode could not record the closed connection');
      }
    }
  };
  client.once('close', () => {
    if (!entry.reply) gone();
  });

  void (async () => {
    const timeouts = mode.dialTimeoutsMs;
    for (let attempt = 0; attempt < timeouts.length; attempt++) {
      if (client.destroyed) return;
      const d = mode.decide(flow, attempt);
      if (d.kind === 'reject') {
        ctx.metrics.verdicts.inc({ service: svc, verdict: 'reject' });
        ctx.log.debug(
          { svc, client: `${flow.client.ip.text}:${flow.client.port}`, reason: d.reason },
          'connection rejected',
        );
        client.resetAndDestroy();
        return;
      }
      if (d.kind === 'drop') {
        ctx.metrics.verdicts.inc({ service: svc, verdict: 'drop' });
        ctx.log.debug(
          { svc, client: `${flow.client.ip.text}:${flow.client.port}`, reason: d.reason },
          'connection dropped',
        );
        const t = setTimeout(() => client.destroy(), ctx.limits.dropHoldMs);
        client.once('close', () => clearTimeout(t));
        return;
      }
      const twins = ctx.twins();
      const host = twins.toLoopback(d.endpoint.ip);
      const local = twins.toLoopback(d.source);
      const epKey = `${d.endpoint.ip.text}:${d.endpoint.port}`;
      if (!host || !local) {
        ctx.metrics.connectErrors.inc({ service: svc, endpoint: epKey, reason: 'NOTWIN' });
        ctx.log.warn(
          { svc, endpoint: epKey, source: d.source.text },
          'endpoint or source has no loopback twin; cannot forward',
        );
        continue;
      }
      if (attempt > 0) ctx.metrics.retries.inc({ service: svc });
      const r = await dialTcp({
        host: host.text,
        port: d.endpoint.port,
        localAddress: local.text,
        timeoutMs: timeouts[attempt]!,
        highWaterMark: ctx.limits.highWaterMark,
      });
      if (!r.ok) {
        ctx.metrics.connectErrors.inc({ service: svc, endpoint: epKey, reason: r.code });
        ctx.log.debug({ svc, endpoint: epKey, attempt, code: r.code }, 'dial failed');
        continue;
      }
      if (client.destroyed) {
        r.socket.destroy();
        return;
      }
      entry.endpoint = epKey;
      entry.reply = {
        src: d.endpoint.ip.text,
        sport: d.endpoint.port,
        dst: d.source.text,
        dport: r.socket.localPort ?? 0,
      };
      entry.state = 'ESTABLISHED';
      forwarded = d;
      ctx.open.delete(pair);
      splice(ctx, entry, client, r.socket, started, gone);
      return;
    }
    ctx.metrics.verdicts.inc({ service: svc, verdict: 'exhausted' });
    ctx.log.info(
      { svc, client: `${flow.client.ip.text}:${flow.client.port}`, attempts: timeouts.length },
      'failed to connect to an endpoint; client reset',
    );
    client.resetAndDestroy();
  })();
}

function splice(
  ctx: ForwardContext,
  entry: LiveConnection,
  client: Socket,
  up: Socket,
  started: number,
  gone: () => void,
): void {
  const labels = { service: entry.service, endpoint: entry.endpoint!, protocol: 'TCP' };
  ctx.metrics.connections.inc(labels);
  ctx.metrics.active.inc(labels);
  for (const s of [client, up]) {
    s.setNoDelay(true);
    if (ctx.limits.keepAliveMs > 0) s.setKeepAlive(true, ctx.limits.keepAliveMs);
    if (ctx.limits.idleTimeoutMs > 0) s.setTimeout(ctx.limits.idleTimeoutMs);
  }
  const handle = {
    destroy: () => {
      client.destroy();
      up.destroy();
    },
    buffered: () => client.writableLength + client.readableLength + up.writableLength + up.readableLength,
  };
  ctx.open.add(handle);
  let closed = 0;
  let how = 'closed';
  const onTimeout = () => {
    if (ctx.clock.now() - entry.lastSeen >= ctx.limits.idleTimeoutMs) {
      how = 'idle timeout';
      client.destroy();
      up.destroy();
    }
  };
  client.on('timeout', onTimeout);
  up.on('timeout', onTimeout);
  client.on('data', (b: Buffer) => ctx.conntrack.count(entry, 'orig', b.length));
  up.on('data', (b: Buffer) => ctx.conntrack.count(entry, 'repl', b.length));
  client.on('end', () => {
    entry.state = entry.state === 'CLOSE_WAIT' ? 'TIME_WAIT' : 'FIN_WAIT';
  });
  up.on('end', () => {
    entry.state = entry.state === 'FIN_WAIT' ? 'TIME_WAIT' : 'CLOSE_WAIT';
  });
  client.on('error', (e: NodeJS.ErrnoException) => {
    how = `client ${e.code ?? 'error'}`;
    if (!up.destroyed) up.resetAndDestroy();
  });
  up.on('error', (e: NodeJS.ErrnoException) => {
    how = `endpoint ${e.code ?? 'error'}`;
    if (!client.destroyed) client.resetAndDestroy();
  });
  const onClose = (other: Socket) => () => {
    // The closed side can take no more data: if the other still has some to send, nobody will read it.
    if (!other.destroyed) {
      if (other.readableEnded) other.end();
      else other.destroy();
    }
    if (++closed < 2) return;
    entry.state = 'CLOSE';
    ctx.open.delete(handle);
    gone();
    ctx.metrics.active.dec(labels);
    ctx.metrics.bytes.inc(
      { service: entry.service, endpoint: entry.endpoint!, direction: 'original' },
      entry.orig.bytes,
    );
    ctx.metrics.bytes.inc(
      { service: entry.service, endpoint: entry.endpoint!, direction: 'reply' },
      entry.repl.bytes,
    );
    ctx.log.debug(
      {
        svc: entry.service,
        client: `${entry.original.src}:${entry.original.sport}`,
        endpoint: entry.endpoint,
        bytesIn: entry.orig.bytes,
        bytesOut: entry.repl.bytes,
        durationMs: ctx.clock.now() - started,
        how,
      },
      'connection closed',
    );
  };
  client.once('close', onClose(up));
  up.once('close', onClose(client));
  client.pipe(up);
  up.pipe(client);
}
