/**
 * One HTTP/1.1 request from a client twin to a loopback address, as curl sends it. The destination
 * must be loopback: kpath never opens a socket anywhere else.
 */
import { request } from 'node:http';
import { isLoopback, tryParseIP } from '../../netmodel/addr.js';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';

export interface HttpRequest {
  readonly host: string;
  readonly port: number;
  readonly bind: string;
  readonly method: string;
  readonly path: string;
  /** The Host header (the name the user typed). */
  readonly hostHeader: string;
  readonly headers: readonly [string, string][];
  readonly body?: string;
  readonly timeoutMs: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly httpVersion: string;
  readonly headers: readonly [string, string][];
  readonly body: Buffer;
  /** The local address:port the connection really used. */
  readonly local: string;
}

/** Why a request failed, with curl's exit status for it. */
export class RequestFailure extends Error {
  constructor(
    message: string,
    readonly curlExit: number,
  ) {
    super(message);
  }
}

export function httpRequest(r: HttpRequest): Promise<HttpResponse> {
  const ip = tryParseIP(r.host);
  if (!ip || !isLoopback(ip))
    throw new KpathError(
      ErrorCodes.USAGE,
      `refusing to connect to ${r.host}: kpath only connects to loopback`,
    );
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: r.hostHeader, 'User-Agent': 'kpath-curl', Accept: '*/*' };
    for (const [k, v] of r.headers) headers[k] = v;
    if (r.body !== undefined && !r.headers.some(([k]) => k.toLowerCase() === 'content-type'))
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const req = request({
      host: r.host,
      port: r.port,
      localAddress: r.bind,
      method: r.method,
      path: r.path,
      headers,
      agent: false,
    });
    let local = '';
    const timer = setTimeout(() => {
      req.destroy(new RequestFailure(`Operation timed out after ${r.timeoutMs} milliseconds`, 28));
    }, r.timeoutMs);
    req.on('socket', (s) => {
      s.on('connect', () => {
        local = `${s.localAddress}:${s.localPort}`;
      });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const hs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2)
          hs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          httpVersion: res.httpVersion,
          headers: hs,
          body: Buffer.concat(chunks),
          local,
        });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(new RequestFailure(`Recv failure: ${e.message}`, 56));
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e instanceof RequestFailure) return reject(e);
      if (e.code === 'ECONNREFUSED')
        return reject(
          new RequestFailure(`Failed to connect to ${r.host} port ${r.port}: Connection refused`, 7),
        );
      if (e.code === 'ECONNRESET')
        return reject(new RequestFailure(`Connection reset by peer (${r.host}:${r.port})`, 56));
      if (e.code === 'EADDRNOTAVAIL')
        return reject(new RequestFailure(`cannot bind ${r.bind}: ${e.message}`, 45));
      reject(new RequestFailure(`${e.code ?? ''} ${e.message}`.trim(), 7));
    });
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}
