/**
 * A loopback HTTPS relay in front of a test cluster's API that records every request body, so a
 * test can see the bytes the real kubectl sends (its typed clients' protobuf) and still get the real
 * answers. kubectl reaches it through a kubeconfig of its own (same CA, token and serving cert).
 */
import { writeFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Cluster, runKubectl } from './helpers.js';

export interface Captured {
  readonly method: string;
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

export interface Capture {
  readonly requests: Captured[];
  /** kubectl through the relay. */
  kubectl(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

export async function startCapture(c: Cluster): Promise<Capture> {
  const creds = c.api.credentials;
  const target = new URL(c.api.url);
  const requests: Captured[] = [];
  const server = createServer({ key: creds.keyPem, cert: creds.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (body.length)
        requests.push({
          method: req.method ?? '',
          path: req.url ?? '',
          contentType: String(req.headers['content-type'] ?? ''),
          body,
        });
      const up = request(
        {
          host: target.hostname,
          port: Number(target.port),
          path: req.url,
          method: req.method,
          ca: creds.caPem,
          headers: { ...req.headers, host: target.host },
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const kubeconfig = join(c.dir, 'kubeconfig-capture');
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: capture
  cluster:
    server: https://127.0.0.1:${port}
    certificate-authority-data: ${Buffer.from(creds.caPem).toString('base64')}
users:
- name: capture
  user:
    token: ${creds.token}
contexts:
- name: capture
  context: {cluster: capture, user: capture, namespace: default}
current-context: capture
`,
  );
  return {
    requests,
    kubectl(args) {
      return runKubectl({ ...process.env, KUBECONFIG: kubeconfig, HOME: c.dir }, args);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
