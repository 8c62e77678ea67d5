/**
 * The Kubernetes API over HTTPS for the real kubectl (`kpath up --api-address`, loopback only).
 *
 *   TLS (serving cert from the state directory's CA) -> parse URL -> public paths (/version,
 *   /healthz, /livez, /readyz) | bearer token (else 401 Status) -> read body (size-limited, 413)
 *   -> discovery | OpenAPI | resource path -> verb handler (handlers.ts) -> JSON or Table
 *   watch -> chunked stream of {"type","object"} lines until the client leaves or timeoutSeconds
 *   any error -> a metav1.Status with the apiserver's code and reason; nothing reaches the socket raw
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import type { WatchEvent } from './cache.js';
import {
  AGGREGATED_V2,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  apiVersions,
  versionInfo,
  wantsAggregated,
} from './discovery.js';
import {
  type Call,
  create,
  getObject,
  getScale,
  listFilter,
  listObjects,
  matches,
  patch,
  type Reply,
  remove,
  removeCollection,
  update,
  writeScale,
} from './handlers.js';
import { openapiV2, openapiV2Protobuf, openapiV3Doc, openapiV3Index } from './openapi.js';
import type { Obj } from './render.js';
import { apiVersionOf, findResource, type ResourceInfo, resourceId } from './resources.js';
import { ApiError, errors, isApiError } from './status.js';
import type { ApiStore } from './store.js';
import { type IncludeObject, toTable } from './table.js';

/** Limits, each with its unit. */
export const API_DEFAULTS = Object.freeze({
  /** bytes; the apiserver's MaxRequestBodyBytes */
  maxBodyBytes: 3 * 1024 * 1024,
  /** ms between BOOKMARK events on watches that ask for them */
  bookmarkMs: 15_000,
  /** s; a watch without timeoutSeconds ends after this (the apiserver picks 30-60 min) */
  watchTimeoutS: 1800,
});

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly key: string;
  readonly cert: string;
  readonly token: string;
  readonly store: ApiStore;
  readonly log: Logger;
  readonly maxBodyBytes?: number;
  readonly bookmarkMs?: number;
  /** Answer /readyz: ok once the cluster runs. */
  readonly ready?: () => boolean;
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function send(
  res: ServerResponse,
  code: number,
  body: Obj | string,
  warnings: readonly string[] = [],
  contentType = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
): void {
  if (res.headersSent) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'Content-Type': contentType,
    'Cache-Control': 'no-cache, private',
    'Content-Length': String(Buffer.byteLength(text)),
  };
  if (warnings.length) headers.Warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  res.writeHead(code, headers);
  res.end(text);
}

function sendError(res: ServerResponse, e: ApiError): void {
  send(res, e.code, e.status());
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(errors.tooLarge(limit));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(errors.tooLarge(limit));
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

interface Negotiated {
  readonly table: boolean;
}

function negotiate(accept: string | undefined): Negotiated {
  const a = accept ?? '*/*';
  const table = a.split(',').some((part) => /(^|;)\s*as=Table/.test(part) && /application\/json/.test(part));
  if (!table && !/application\/json|\*\/\*|application\/\*|application\/yaml/.test(a))
    throw errors.notAcceptable(a);
  return { table };
}

function mediaType(ct: string | undefined): string {
  return (ct ?? '').split(';')[0]!.trim().toLowerCase();
}

function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}

export class ApiServer {
  private server: Server | undefined;
  private readonly watches = new Set<() => void>();
  private address = '';

  constructor(private readonly opts: ApiServerOptions) {}

  get url(): string {
    return `https://${this.address}`;
  }

  async start(): Promise<void> {
    const { host, port } = this.opts;
    if (!isLoopbackHost(host)) {
      throw new KpathError(
        ErrorCodes.USAGE,
        `--api-address ${host}:${port}: the API serves on loopback only (127.0.0.0/8, ::1 or localhost)`,
      );
    }
    const server = createServer({ key: this.opts.key, cert: this.opts.cert }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.opts.log.error({ err: String((e as Error)?.stack ?? e) }, 'API request failed');
        sendError(res, isApiError(e) ? e : errors.internal('the request could not be handled'));
      });
    });
    server.on('tlsClientError', () => {});
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new KpathError(
            ErrorCodes.LISTEN,
            `API server ${host}:${port}: ${e.code ?? e.message}${e.code === 'EADDRINUSE' ? ' (another kpath up or apiserver holds it; pass --api-address 127.0.0.1:PORT)' : ''}`,
            { cause: e },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    this.address = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  async stop(): Promise<void> {
    for (const w of [...this.watches]) w();
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) return false;
    const got = Buffer.from(m[1]!);
    const want = Buffer.from(this.opts.token);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://kpath');
    const segs = url.pathname.split('/').filter(Boolean);
    const method = req.method ?? 'GET';
    const log = this.opts.log;
    log.debug({ method, path: url.pathname, query: url.search }, 'API request');
    const head = segs[0] ?? '';
    if (method === 'GET' && segs.length === 1 && ['healthz', 'livez', 'readyz'].includes(head)) {
      const ok = head !== 'readyz' || (this.opts.ready?.() ?? true);
      send(res, ok ? 200 : 500, ok ? 'ok' : '[-]kpath-cluster failed: not ready yet\nreadyz check failed');
      return;
    }
    if (method === 'GET' && segs.length === 1 && head === 'version') {
      send(res, 200, versionInfo());
      return;
    }
    if (!this.authorized(req)) {
      req.resume();
      sendError(res, errors.unauthorized());
      return;
    }
    try {
      const body =
        method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE'
          ? await readBody(req, this.opts.maxBodyBytes ?? API_DEFAULTS.maxBodyBytes)
          : undefined;
      await this.route(req, res, method, segs, url.searchParams, body);
    } catch (e) {
      if (isApiError(e)) sendError(res, e);
      else throw e;
    }
  }

  private async route(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    segs: string[],
    q: URLSearchParams,
    body: Buffer | undefined,
  ): Promise<void> {
    const [a, b, c] = segs;
    if (method === 'GET') {
      if (segs.length === 1 && (a === 'api' || a === 'apis')) {
        if (wantsAggregated(req.headers.accept))
          return send(res, 200, aggregatedDiscovery(a === 'api'), [], AGGREGATED_V2);
        return send(res, 200, a === 'api' ? apiVersions(this.address) : apiGroupList());
      }
      if (segs.length === 2 && a === 'api' && b === 'v1') return send(res, 200, apiResourceList('', 'v1')!);
      if (segs.length === 2 && a === 'apis') {
        const g = apiGroup(b!);
        return g ? send(res, 200, g) : sendError(res, errors.notFoundPath());
      }
      if (segs.length === 3 && a === 'apis') {
        const l = apiResourceList(b!, c!);
        return l ? send(res, 200, l) : sendError(res, errors.notFoundPath());
      }
      if (a === 'openapi' && b === 'v2' && segs.length === 2) {
        if (/protobuf/.test(req.headers.accept ?? '')) {
          // Older kubectl (1.20, Debian's kubernetes-client) reads the v2 document as protobuf only.
          const pb = openapiV2Protobuf();
          res.writeHead(200, {
            'Content-Type': 'application/octet-stream',
            'Content-Length': String(pb.length),
          });
          res.end(pb);
          return;
        }
        return send(res, 200, openapiV2());
      }
      if (a === 'openapi' && b === 'v3') {
        if (segs.length === 2) return send(res, 200, openapiV3Index());
        const doc = openapiV3Doc(segs.slice(2).join('/'));
        return doc ? send(res, 200, doc) : sendError(res, errors.notFoundPath());
      }
    }
    let group: string;
    let version: string;
    let rest: string[];
    if (a === 'api' && b === 'v1') {
      group = '';
      version = 'v1';
      rest = segs.slice(2);
    } else if (a === 'apis' && segs.length >= 4) {
      group = b!;
      version = c!;
      rest = segs.slice(3);
    } else {
      return sendError(res, errors.notFoundPath());
    }
    let namespace = '';
    let resource: ResourceInfo | undefined;
    let name = '';
    let sub = '';
    if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(group, version, rest[2]!)) {
      namespace = rest[1]!;
      resource = findResource(group, version, rest[2]!);
      name = rest[3] ?? '';
      sub = rest[4] ?? '';
      if (rest.length > 5) return sendError(res, errors.notFoundPath());
    } else {
      resource = findResource(group, version, rest[0] ?? '');
      name = rest[1] ?? '';
      sub = rest[2] ?? '';
      if (rest.length > 3) return sendError(res, errors.notFoundPath());
    }
    if (!resource) return sendError(res, errors.notFoundPath());
    if (resource.namespaced && !namespace && name) return sendError(res, errors.notFoundPath());
    if (!resource.namespaced && namespace) return sendError(res, errors.notFoundPath());
    const call: Call = {
      resource,
      namespace,
      name,
      subresource: sub,
      query: q,
      contentType: mediaType(req.headers['content-type']),
      body,
    };
    const store = this.opts.store;
    const neg = negotiate(req.headers.accept);
    const reply = (r: Reply) =>
      send(
        res,
        r.code,
        neg.table && r.code < 300 && !isStatus(r.body) ? this.table(call, [r.body]) : r.body,
        r.warnings,
      );
    if (sub && sub !== 'scale' && sub !== 'status') return sendError(res, errors.notFoundPath());
    switch (method) {
      case 'GET':
        if (!name) {
          if (q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(req, res, call, neg);
          const l = listObjects(store, call);
          if (neg.table) return send(res, 200, this.table(call, l.items, l.rv, l.continue));
          return send(res, 200, {
            kind: `${resource.kind}List`,
            apiVersion: apiVersionOf(resource),
            metadata: { resourceVersion: l.rv, ...(l.continue ? { continue: l.continue } : {}) },
            items: l.items,
          });
        }
        if (sub === 'scale') return send(res, 200, getScale(store, call));
        return send(
          res,
          200,
          neg.table ? this.table(call, [getObject(store, call)]) : getObject(store, call),
        );
      case 'POST':
        if (name) return sendError(res, errors.methodNotAllowed('POST', `${resource.name}/${name}`));
        return reply(await create(store, call));
      case 'PUT':
        if (!name) return sendError(res, errors.methodNotAllowed('PUT', resource.name));
        if (sub === 'status')
          return sendError(res, errors.methodNotAllowed('PUT', `${resource.name}/status`));
        return reply(sub === 'scale' ? await writeScale(store, call, 'PUT') : await update(store, call));
      case 'PATCH':
        if (!name) return sendError(res, errors.methodNotAllowed('PATCH', resource.name));
        if (sub === 'status')
          return sendError(res, errors.methodNotAllowed('PATCH', `${resource.name}/status`));
        return reply(sub === 'scale' ? await writeScale(store, call, 'PATCH') : await patch(store, call));
      case 'DELETE':
        if (sub) return sendError(res, errors.methodNotAllowed('DELETE', `${resource.name}/${sub}`));
        return reply(name ? await remove(store, call) : await removeCollection(store, call));
      default:
        return sendError(res, errors.methodNotAllowed(method, resource.name));
    }
  }

  private table(call: Call, objs: Obj[], rv?: string, cont?: string): Obj {
    return toTable(resourceId(call.resource), objs, {
      include: includeObjectOf(call.query),
      now: Date.now(),
      ...(rv !== undefined ? { resourceVersion: rv } : {}),
      ...(cont ? { continue: cont } : {}),
    });
  }

  private watch(req: IncomingMessage, res: ServerResponse, call: Call, neg: Negotiated): void {
    const store = this.opts.store;
    const filter = listFilter(call);
    const rid = resourceId(call.resource);
    const rvParam = call.query.get('resourceVersion') ?? '';
    const timeoutS =
      Number(call.query.get('timeoutSeconds') ?? API_DEFAULTS.watchTimeoutS) || API_DEFAULTS.watchTimeoutS;
    const bookmarks = call.query.get('allowWatchBookmarks') === 'true';
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    res.flushHeaders();
    const inSet = new Set<string>();
    const render = (o: Obj) => (neg.table ? this.table(call, [o]) : o);
    const write = (type: string, o: Obj) => {
      res.write(`${JSON.stringify({ type, object: render(o) })}\n`);
    };
    let lastRv = store.cache.resourceVersion;
    const onEvent = (e: WatchEvent) => {
      if (e.resource !== rid) return;
      lastRv = e.rv;
      const was = inSet.has(e.key);
      const now = e.type !== 'DELETED' && matches(filter, e.obj);
      if (e.type === 'DELETED') {
        if (!was && !matches(filter, e.obj)) return;
        inSet.delete(e.key);
        write('DELETED', e.obj);
      } else if (now) {
        inSet.add(e.key);
        write(was ? 'MODIFIED' : 'ADDED', e.obj);
      } else if (was) {
        inSet.delete(e.key);
        write('DELETED', e.obj);
      }
    };
    let from: number;
    if (rvParam === '' || rvParam === '0') {
      for (const e of store.cache.list(rid)) {
        if (!matches(filter, e.obj)) continue;
        const key = objKeyOf(e.obj);
        inSet.add(key);
        write('ADDED', e.obj);
      }
      from = store.cache.resourceVersion;
    } else {
      from = Number(rvParam);
      if (!Number.isInteger(from) || from < 0) {
        res.end(
          `${JSON.stringify({ type: 'ERROR', object: errors.badRequest(`invalid resource version "${rvParam}"`).status() })}\n`,
        );
        return;
      }
      // Objects already in the selection at `from` are known to the client: seed the set.
      for (const e of store.cache.list(rid))
        if (e.rv <= from && matches(filter, e.obj)) inSet.add(objKeyOf(e.obj));
    }
    const cancel = store.cache.watch(from, onEvent);
    if (!cancel) {
      res.end(
        `${JSON.stringify({ type: 'ERROR', object: errors.gone(`too old resource version: ${from} (${store.cache.oldestResumable})`).status() })}\n`,
      );
      return;
    }
    const bookmarkTimer = bookmarks
      ? setInterval(() => {
          const rv = String(Math.max(lastRv, store.cache.resourceVersion));
          res.write(
            `${JSON.stringify({ type: 'BOOKMARK', object: { kind: call.resource.kind, apiVersion: apiVersionOf(call.resource), metadata: { resourceVersion: rv } } })}\n`,
          );
        }, this.opts.bookmarkMs ?? API_DEFAULTS.bookmarkMs)
      : undefined;
    const end = () => {
      cancel();
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      clearTimeout(timer);
      this.watches.delete(end);
      if (!res.writableEnded) res.end();
    };
    const timer = setTimeout(end, timeoutS * 1000);
    this.watches.add(end);
    req.on('close', end);
    res.on('error', end);
  }
}

function objKeyOf(o: Obj): string {
  const m = (o.metadata ?? {}) as Obj;
  return m.namespace ? `${m.namespace}/${m.name}` : String(m.name);
}

function isStatus(o: Obj): boolean {
  return o.kind === 'Status';
}

export { ApiError };
