/**
 * The web page's routes on the admin server (kube-proxy's metrics address, 127.0.0.1:10249):
 *   GET /ui/, /ui/trace        the page (one shell; the script picks the view from the path)
 *   GET /ui/style.css, /ui/app/NAME.js   its stylesheet and compiled modules
 *   GET /ui/api/topology       nodes, pods, services, endpoints, the proxy mode (JSON)
 *   GET /ui/api/live           the live state once (JSON); /ui/api/events: the same as server-sent events
 *   GET /ui/api/trace?from=&to=[&node=&proto=&all=1&seed=]   a trace (JSON); 400 with {error, code} if it cannot be traced
 * Loopback only: other clients, and requests naming another host (DNS rebinding), get 403.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes, isKpathError } from '../../netmodel/errors.js';
import { webAsset } from './assets.js';
import { LiveFeed, type LiveSource, liveState } from './live.js';
import { PAGE_CSS, PAGE_HTML } from './page.js';
import { topologyOf } from './topology.js';
import { uiTrace } from './trace.js';

export type UiSource = LiveSource;

export interface Ui {
  /** Handles the request if it is the page's (true), else leaves it alone (false). */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  close(): void;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res
    .writeHead(status, {
      'content-type': type,
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    .end(body);
}

function json(res: ServerResponse, status: number, v: unknown): void {
  send(res, status, 'application/json', `${JSON.stringify(v)}\n`);
}

function isLoopbackAddress(a: string | undefined): boolean {
  return !!a && (a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.'));
}

/** The Host header names this machine's loopback (not a name rebound to it). */
function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return true;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name.startsWith('127.') || name === '::1';
}

export function createUi(src: UiSource): Ui {
  const feed = new LiveFeed(src);
  return {
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      if (path !== '/ui' && !path.startsWith('/ui/')) return false;
      if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host)) {
        send(res, 403, 'text/plain', 'the kpath page is served to loopback clients only\n');
        return true;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'text/plain', 'GET only\n');
        return true;
      }
      if (path === '/ui') {
        res.writeHead(301, { location: '/ui/' }).end();
        return true;
      }
      if (path === '/ui/' || path === '/ui/trace') {
        send(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
        return true;
      }
      if (path === '/ui/style.css') {
        send(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
        return true;
      }
      if (path.startsWith('/ui/app/')) {
        const body = webAsset(path.slice('/ui/app/'.length));
        if (body === undefined)
          send(res, 404, 'text/plain', `no such file ${path} (was npm run build run?)\n`);
        else send(res, 200, 'text/javascript; charset=utf-8', body);
        return true;
      }
      if (path === '/ui/api/topology') {
        json(res, 200, topologyOf(src.snapshot(), src.mode()));
        return true;
      }
      if (path === '/ui/api/live') {
        json(res, 200, liveState(src));
        return true;
      }
      if (path === '/ui/api/events') {
        feed.subscribe(res);
        return true;
      }
      if (path === '/ui/api/trace') {
        traceRoute(src, url.searchParams, res);
        return true;
      }
      json(res, 404, { error: `no such page ${path}` });
      return true;
    },
    close: () => feed.close(),
  };
}

function traceRoute(src: UiSource, q: URLSearchParams, res: ServerResponse): void {
  const snap = src.snapshot();
  if (!snap) {
    json(res, 503, { error: 'the cluster is not loaded yet' });
    return;
  }
  const from = q.get('from');
  const to = q.get('to');
  if (!from || !to) {
    json(res, 400, {
      error:
        'give from (pod/NS/NAME, node/NAME or an outside IP) and to (svc/NS/NAME:PORT, pod/NS/NAME:PORT or node/NAME:PORT)',
      code: ErrorCodes.USAGE,
    });
    return;
  }
  const seed = q.get('seed');
  if (seed !== null && !/^\d+$/.test(seed)) {
    json(res, 400, { error: `seed ${seed}: expected a whole number`, code: ErrorCodes.USAGE });
    return;
  }
  try {
    json(
      res,
      200,
      uiTrace(snap, {
        from,
        to,
        ...(q.get('node') ? { node: q.get('node')! } : {}),
        ...(q.get('proto') ? { proto: q.get('proto')! } : {}),
        all: q.get('all') === '1' || q.get('all') === 'true',
        ...(seed !== null ? { seed: Number(seed) } : {}),
      }),
    );
  } catch (e) {
    if (!isKpathError(e) && !(e instanceof TypeError)) throw e;
    json(res, 400, { error: e.message, code: isKpathError(e) ? e.code : ErrorCodes.USAGE });
  }
}
