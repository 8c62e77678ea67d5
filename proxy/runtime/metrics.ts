/**
 * Prometheus metrics (prom-client), one Registry per runtime so several runtimes can live in one
 * process (tests). Names follow kube-proxy where it has one (kubeproxy_sync_proxy_rules_*); the
 * per-connection series are kpath's own.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class RuntimeMetrics {
  readonly registry = new Registry();
  readonly connections = new Counter({
    name: 'kpath_proxy_connections_total',
    help: 'Connections (TCP) and flows (UDP) forwarded, by service port and endpoint',
    labelNames: ['service', 'endpoint', 'protocol'] as const,
    registers: [this.registry],
  });
  readonly active = new Gauge({
    name: 'kpath_proxy_connections_active',
    help: 'Connections and flows open now, by service port and endpoint',
    labelNames: ['service', 'endpoint', 'protocol'] as const,
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'kpath_proxy_bytes_total',
    help: 'Payload bytes forwarded; direction is original (client to endpoint) or reply',
    labelNames: ['service', 'endpoint', 'direction'] as const,
    registers: [this.registry],
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

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
