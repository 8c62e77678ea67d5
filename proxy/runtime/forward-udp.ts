/**
 * UDP through one listener socket: a flow per client address:port, decided once, with its own
 * upstream socket (bound to the source twin, connected to the endpoint twin) whose replies go back to
 * that client from the listener's address — so a DNS client gets its answer from the address it asked.
 * A flow ends after udpIdleTimeoutMs without traffic either way, when the endpoint answers with ICMP
 * port unreachable (the upstream socket errors), or when the listener closes.
 */
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import type { LiveConnection } from './conntrack.js';
import { flowFor } from './flow.js';
import type { ForwardContext, ListenerTarget } from './forward-context.js';
import { udpFlowKey } from './modes/types.js';
import { openUdpFlow } from './upstream.js';

/** Datagrams held per flow while its upstream socket opens. */
const MAX_PENDING = 64;

interface Flow {
  upstream: UdpSocket | undefined;
  pending: Buffer[];
  entry: LiveConnection;
  timer: NodeJS.Timeout | undefined;
  closed: boolean;
  labels: { service: string; endpoint: string; protocol: string } | undefined;
}

export class UdpForwarder {
  private readonly flows = new Map<string, Flow>();

  constructor(
    private readonly ctx: ForwardContext,
    private readonly socket: UdpSocket,
    public target: ListenerTarget,
  ) {
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
  }

  get size(): number {
    return this.flows.size;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = this.flows.get(key);
    if (existing) {
      this.ctx.conntrack.count(existing.entry, 'orig', msg.length);
      this.touch(key, existing);
      if (existing.upstream) existing.upstream.send(msg);
      else if (existing.pending.length < MAX_PENDING) existing.pending.push(msg);
      return;
    }
    const flow = flowFor(this.ctx, this.target, rinfo.address, rinfo.port);
    if (!flow) return;
    const svc = this.target.servicePort;
    const mode = this.ctx.mode();
    const d = mode.decide(flow, 0);
    if (d.kind !== 'forward') {
      // No ICMP can be sent from a userspace socket: a rejected datagram is dropped too.
      this.ctx.metrics.verdicts.inc({ service: svc, verdict: d.kind });
      return;
    }
    const twins = this.ctx.twins();
    const host = twins.toLoopback(d.endpoint.ip);
    const local = twins.toLoopback(d.source);
    const epKey = `${d.endpoint.ip.text}:${d.endpoint.port}`;
    if (!host || !local) {
      this.ctx.metrics.connectErrors.inc({ service: svc, endpoint: epKey, reason: 'NOTWIN' });
      return;
    }
    const entry = this.ctx.conntrack.open({
      protocol: 'udp',
      original: {
        src: flow.client.ip.text,
        sport: flow.client.port,
        dst: flow.destination.ip.text,
        dport: flow.destination.port,
      },
      state: 'UNREPLIED',
      service: svc,
      entryNode: flow.entryNode,
      mode: mode.name,
    });
    entry.endpoint = epKey;
    this.ctx.conntrack.count(entry, 'orig', msg.length);
    const f: Flow = {
      upstream: undefined,
      pending: [msg],
      entry,
      timer: undefined,
      closed: false,
      labels: undefined,
    };
    this.flows.set(key, f);
    this.touch(key, f);
    openUdpFlow({ host: host.text, port: d.endpoint.port, localAddress: local.text }).then(
      (up) => {
        if (f.closed) {
          up.close();
          return;
        }
        f.upstream = up;
        entry.reply = {
          src: d.endpoint.ip.text,
          sport: d.endpoint.port,
          dst: d.source.text,
          dport: up.address().port,
        };
        f.labels = { service: svc, endpoint: epKey, protocol: 'UDP' };
        this.ctx.metrics.connections.inc(f.labels);
        this.ctx.metrics.active.inc(f.labels);
        up.on('message', (reply) => {
          this.ctx.conntrack.count(entry, 'repl', reply.length);
          this.touch(key, f);
          this.socket.send(reply, rinfo.port, rinfo.address);
        });
        up.on('error', (e: NodeJS.ErrnoException) => {
          this.ctx.metrics.connectErrors.inc({ service: svc, endpoint: epKey, reason: e.code ?? 'ERROR' });
          this.end(key, f, `endpoint ${e.code ?? 'error'}`);
        });
        for (const m of f.pending) up.send(m);
        f.pending = [];
      },
      (e: NodeJS.ErrnoException) => {
        this.ctx.metrics.connectErrors.inc({ service: svc, endpoint: epKey, reason: e.code ?? 'ERROR' });
        this.end(key, f, 'open failed');
      },
    );
  }

  private touch(key: string, f: Flow): void {
    if (f.timer) f.timer.refresh();
    else f.timer = setTimeout(() => this.end(key, f, 'idle'), this.ctx.limits.udpIdleTimeoutMs);
  }

  private end(key: string, f: Flow, how: string): void {
    if (f.closed) return;
    f.closed = true;
    if (f.timer) clearTimeout(f.timer);
    if (this.flows.get(key) === f) this.flows.delete(key);
    this.ctx.conntrack.close(f.entry);
    if (f.upstream) {
      try {
        f.upstream.close();
      } catch {
        // already closed
      }
    }
    if (f.labels) {
      this.ctx.metrics.active.dec(f.labels);
      this.ctx.metrics.bytes.inc(
        { service: f.labels.service, endpoint: f.labels.endpoint, direction: 'original' },
        f.entry.orig.bytes,
      );
      this.ctx.metrics.bytes.inc(
        { service: f.labels.service, endpoint: f.labels.endpoint, direction: 'reply' },
        f.entry.repl.bytes,
      );
    }
    this.ctx.log.debug(
      {
        svc: f.entry.service,
        client: `${f.entry.original.src}:${f.entry.original.sport}`,
        endpoint: f.entry.endpoint,
        bytesIn: f.entry.orig.bytes,
        bytesOut: f.entry.repl.bytes,
        how,
      },
      'udp flow closed',
    );
  }

  /**
   * End the flows whose conntrack entries kube-proxy's stale UDP cleanup deleted (`udpFlowKey`s):
   * their endpoint stopped serving, and the client's next datagram is decided anew.
   */
  endCleared(cleared: ReadonlySet<string>): void {
    if (cleared.size === 0) return;
    for (const [k, f] of [...this.flows]) {
      const o = f.entry.original;
      if (cleared.has(udpFlowKey(f.entry.entryNode, o.src, o.sport, o.dst, o.dport)))
        this.end(k, f, 'conntrack entry deleted by kube-proxy (stale UDP endpoint)');
    }
  }

  /** Close every flow (the listener is going away). */
  closeAll(): void {
    for (const [k, f] of [...this.flows]) this.end(k, f, 'listener closed');
  }
}
