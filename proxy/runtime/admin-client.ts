/** Reading a running `kpath up`'s admin API (loopback only). */
import { request } from 'node:http';
import { isIP } from 'node:net';
import { ErrorCodes, KpathError } from '../../netmodel/errors.js';
import { isLoopbackText } from './upstream.js';

export const DEFAULT_ADMIN = '127.0.0.1:10249';

export function fetchAdmin<T>(admin: string, path: string): Promise<T> {
  const i = admin.lastIndexOf(':');
  const host = admin.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(admin.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port <= 0 || port > 65535 || !isIP(host)) {
    return Promise.reject(
      new KpathError(ErrorCodes.USAGE, `--admin ${admin}: expected HOST:PORT, e.g. ${DEFAULT_ADMIN}`),
    );
  }
  if (!isLoopbackText(host)) {
    return Promise.reject(
      new KpathError(
        ErrorCodes.USAGE,
        `--admin ${admin}: kpath only talks to loopback addresses (127.0.0.0/8, ::1)`,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(
            new KpathError(
              ErrorCodes.NOT_FOUND,
              `${admin}${path}: HTTP ${res.statusCode} (is this a kpath up admin address?)`,
            ),
          );
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch {
          reject(
            new KpathError(
              ErrorCodes.NOT_FOUND,
              `${admin}${path}: the answer is not JSON (is this a kpath up admin address?)`,
            ),
          );
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) =>
      reject(
        new KpathError(
          ErrorCodes.NOT_FOUND,
          e.code === 'ECONNREFUSED'
            ? `no kpath up is answering at ${admin} (start \`kpath up\`, or pass --admin HOST:PORT with its --metrics-address)`
            : `cannot reach ${admin}: ${e.code ?? e.message}`,
        ),
      ),
    );
    req.end();
  });
}
