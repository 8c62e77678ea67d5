/**
 * The runtime's HTTP endpoints, each on its own configurable address (port 0: ephemeral).
 *   health  (kube-proxy's 127.0.0.1:10256)  GET /healthz -> 200 once listeners are up, else 503;
 *           body as kube-proxy's: {"lastUpdated", "currentTime", "nodeEligible"}
 *   metrics (kube-proxy's 127.0.0.1:10249)  GET /metrics (Prometheus text), GET /proxyMode,
 *           kpath's JSON admin API under /api/v1/: conntrack, affinity, endpoints, listeners, pods,
 *           and further routes (the web page under /ui/, proxy/ui)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenError } from './bind-errors.js';

export interface AdminHandlers {
  healthy(): { ok: boolean; lastUpdated: number };
  metrics(): Promise<{ contentType: string; body: string }>;
  proxyMode(): string;
  /** Each handler's value, or a promise of it, is sent as JSON. */
  api: Record<string, () => unknown>;
  /** Further routes (the web page, proxy/ui): true when it handled the request. */
  routes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
}

function listen(server: Server, at: Endpoint, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(listenError(at.host, at.port, 'TCP', what, e)));
    server.listen({ host: at.host, port: at.port }, () => {
      const a = server.address() as AddressInfo;
      resolve(`${a.address}:${a.port}`);
    });
  });
}

export class AdminServers {
  private readonly servers: Server[] = [];
  healthAddress: string | undefined;
  metricsAddress: string | undefined;

  constructor(private readonly h: AdminHandlers) {}

  async start(health: Endpoint | null, metrics: Endpoint | null): Promise<void> {
    if (health) {
      const s = createServer((req, res) => this.health(req, res));
      this.healthAddress = await listen(s, health, 'health server (--health-address)');
      this.servers.push(s);
    }
    if (metrics) {
      const s = createServer((req, res) => void this.metrics(req, res));
      this.metricsAddress = await listen(s, metrics, 'metrics and admin server (--metrics-address)');
      this.servers.push(s);
    }
  }

  private health(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/livez') {
      send(res, 404, 'text/plain', '404 page not found\n');
      return;
    }
    const st = this.h.healthy();
    const body = JSON.stringify({
      lastUpdated: new Date(st.lastUpdated || Date.now()).toISOString(),
      currentTime: new Date().toISOString(),
      nodeEligible: true,
    });
    send(res, st.ok ? 200 : 503, 'application/json', body);
  }

  private async metrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    try {
      if (path === '/metrics') {
        const m = await this.h.metrics();
        return send(res, 200, m.contentType, m.body);
      }
      if (path === '/proxyMode') return send(res, 200, 'text/plain', this.h.proxyMode());
      if (path === '/healthz') return this.health(req, res);
      if (this.h.routes?.(req, res)) return;
      const api = /^\/api\/v1\/([a-z]+)$/.exec(path);
      const fn = api ? this.h.api[api[1]!] : undefined;
      if (fn) return send(res, 200, 'application/json', `${JSON.stringify(await fn(), null, 2)}\n`);
      send(
        res,
        404,
        'application/json',
        `${JSON.stringify({ error: `no such endpoint ${path}`, endpoints: ['/metrics', '/proxyMode', ...Object.keys(this.h.api).map((k) => `/api/v1/${k}`)] })}\n`,
      );
    } catch (e) {
      send(res, 500, 'text/plain', `${(e as Error).message}\n`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
  }
}
