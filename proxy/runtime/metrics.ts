/**
 * Prometheus metrics (prom-client), one Registry per runtime so several runtimes can live in one
 * process (tests). Names follow kube-proxy where it has one (kubeproxy_sync_proxy_rules_*); the
 * per-connection series are kpath's own.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Per-connection counts of one (service, endpoint, protocol), kept as plain numbers on the hot path
 * and added to the prom-client series when the registry is read (`collect`), so a connection costs no
 * label hashing. Scrapes see the same values as if every connection had updated prom-client itself.
 */
export class EndpointCounts {
  /** connections opened, active delta, payload bytes, connections closed since the last flush */
  opened = 0;
  activeDelta = 0;
  bytesOriginal = 0;
  bytesReply = 0;
  closed = 0;
  dirty = false;
  readonly labels: { service: string; endpoint: string; protocol: string };
  /** `ip:port`, one string for every connection to this endpoint */
  readonly endpoint: string;
  readonly original: { service: string; endpoint: string; direction: string };
  readonly reply: { service: string; endpoint: string; direction: string };
  constructor(service: string, endpoint: string, protocol: string) {
    this.endpoint = endpoint;
    this.labels = { service, endpoint, protocol };
    this.original = { service, endpoint, direction: 'original' };
    this.reply = { service, endpoint, direction: 'reply' };
  }
}

export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly pending = new Map<string, EndpointCounts>();
  /** The same counts by service, endpoint address and port: no key string per connection. */
  private readonly byAddress = new Map<string, Map<string, Map<number, EndpointCounts>>>();
  private readonly dirty: EndpointCounts[] = [];
  private readonly flushAll = (): void => this.flush();
  readonly connections = new Counter({
    name: 'kpath_proxy_connections_total',
    help: 'Connections (TCP) and flows (UDP) forwarded, by service port and endpoint',
    labelNames: ['service', 'endpoint', 'protocol'] as const,
    registers: [this.registry],
    collect: this.flushAll,
  });
  readonly active = new Gauge({
    name: 'kpath_proxy_connections_active',
    help: 'Connections and flows open now, by service port and endpoint',
    labelNames: ['service', 'endpoint', 'protocol'] as const,
    registers: [this.registry],
    collect: this.flushAll,
  });
  readonly bytes = new Counter({
    name: 'kpath_proxy_bytes_total',
    help: 'Payload bytes forwarded; direction is original (client to endpoint) or reply',
    labelNames: ['service', 'endpoint', 'direction'] as const,
    registers: [this.registry],
    collect: this.flushAll,
  });
  readonly connectErrors = new Counter({
    name: 'kpath_proxy_connect_errors_total',
    help: 'Failed dials to endpoints, by reason (ECONNREFUSED, ETIMEDOUT, ...)',
    labelNames: ['service', 'endpoint', 'reason'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'kpath_proxy_dial_retries_total',
    help: 'Dial attempts after the first for one client connection',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });
  readonly verdicts = new Counter({
    name: 'kpath_proxy_verdicts_total',
    help: 'Flows not forwarded: reject (client reset), drop (left unanswered), exhausted (every dial failed), limit',
    labelNames: ['service', 'verdict'] as const,
    registers: [this.registry],
  });
  readonly syncDuration = new Histogram({
    name: 'kubeproxy_sync_proxy_rules_duration_seconds',
    help: 'How long a sync (listeners, pods and mode state from one snapshot) took',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [this.registry],
  });
  readonly lastSync = new Gauge({
    name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
    help: 'When the last sync finished (unix seconds)',
    registers: [this.registry],
  });
  readonly reloadErrors = new Counter({
    name: 'kpath_manifest_reload_errors_total',
    help: 'Manifest reloads rejected (the previous cluster kept serving)',
    registers: [this.registry],
  });

  /** The counts of one (service, endpoint, protocol); the same object every time (cached). */
  endpoint(service: string, endpoint: string, protocol: string): EndpointCounts {
    const key = `${service}\0${endpoint}\0${protocol}`;
    let c = this.pending.get(key);
    if (!c) {
      c = new EndpointCounts(service, endpoint, protocol);
      this.pending.set(key, c);
    }
    return c;
  }

  /** endpoint(service, `${ip}:${port}`, protocol) without building the key (TCP and UDP apart). */
  endpointAt(service: string, ip: string, port: number, protocol: 'TCP' | 'UDP'): EndpointCounts {
    let byIP = this.byAddress.get(service);
    if (!byIP) {
      byIP = new Map();
      this.byAddress.set(service, byIP);
    }
    let byPort = byIP.get(ip);
    if (!byPort) {
      byPort = new Map();
      byIP.set(ip, byPort);
    }
    const k = protocol === 'TCP' ? port : -port;
    let c = byPort.get(k);
    if (!c) {
      c = this.endpoint(service, `${ip}:${port}`, protocol);
      byPort.set(k, c);
    }
    return c;
  }

  /** A connection was forwarded (connections_total +1, active +1). */
  opened(c: EndpointCounts): void {
    c.opened++;
    c.activeDelta++;
    this.touch(c);
  }

  /** A forwarded connection closed after carrying these payload bytes. */
  closedConnection(c: EndpointCounts, bytesOriginal: number, bytesReply: number): void {
    c.activeDelta--;
    c.bytesOriginal += bytesOriginal;
    c.bytesReply += bytesReply;
    c.closed++;
    this.touch(c);
  }

  private touch(c: EndpointCounts): void {
    if (c.dirty) return;
    c.dirty = true;
    this.dirty.push(c);
  }

  /** Move the pending counts into the prom-client series (run before every read of the registry). */
  flush(): void {
    for (const c of this.dirty) {
      c.dirty = false;
      if (c.opened > 0) this.connections.inc(c.labels, c.opened);
      this.active.inc(c.labels, c.activeDelta);
      if (c.closed > 0) {
        this.bytes.inc(c.original, c.bytesOriginal);
        this.bytes.inc(c.reply, c.bytesReply);
      }
      c.opened = 0;
      c.activeDelta = 0;
      c.bytesOriginal = 0;
      c.bytesReply = 0;
      c.closed = 0;
    }
    this.dirty.length = 0;
  }

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
