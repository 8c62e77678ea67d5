/**
 * The Kubernetes API of `kpath up` with 1,000 services (10 deployments of 2 pods, each service
 * selecting one of them), in-process, over HTTPS with a keep-alive agent as kubectl uses one:
 * list latency (JSON and the Table kubectl get asks for), get, watch latency (a write until its
 * event reaches an open watch) and writes/s (merge patches, each validated by rebuilding the whole
 * cluster, stored atomically and adopted by the running proxy).
 *
 *   npx vitest bench --run bench/api.bench.ts
 *
 * Figures in docs/performance.md ("Kubernetes API").
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, bench, describe } from 'vitest';
import { ApiService } from '../proxy/api/index.js';
import { startRuntime } from '../proxy/runtime/index.js';

const SERVICES = 1000;
const DEPLOYMENTS = 10;

function clusterYaml(): string {
  const docs: string[] = [
    `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata: {name: bench}
spec: {podCIDR: 10.240.0.0/16, serviceCIDR: 10.140.0.0/16, nodePortRange: 34000-34999}`,
    `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables`,
  ];
  for (const [i, n] of ['node-a', 'node-b'].entries()) {
    docs.push(`apiVersion: v1
kind: Node
metadata: {name: ${n}}
spec: {podCIDR: 10.240.${i + 1}.0/24}
status: {addresses: [{type: InternalIP, address: 10.190.0.${11 + i}}]}`);
  }
  for (let d = 0; d < DEPLOYMENTS; d++) {
    docs.push(`apiVersion: apps/v1
kind: Deployment
metadata: {name: app-${d}}
spec:
  replicas: 2
  selector: {matchLabels: {app: app-${d}}}
  template:
    metadata: {labels: {app: app-${d}}}
    spec: {containers: [{name: echo, image: kpath/echo, ports: [{containerPort: 8080}]}]}`);
  }
  for (let s = 0; s < SERVICES; s++) {
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: svc-${s}}
spec: {selector: {app: app-${s % DEPLOYMENTS}}, ports: [{port: 80, targetPort: 8080}]}`);
  }
  return `${docs.join('\n---\n')}\n`;
}

const dir = mkdtempSync(join(tmpdir(), 'kpath-api-bench-'));
const file = join(dir, 'cluster.yaml');
writeFileSync(file, clusterYaml());
const log = pino({ level: 'silent' });
const api = await ApiService.prepare({
  host: '127.0.0.1',
  port: 0,
  stateDir: join(dir, 'state'),
  kubeconfig: null,
  log,
});
const rt = startRuntime({
  files: [file],
  health: null,
  metrics: null,
  seed: 1,
  logger: log,
  watch: false,
  build: api.build,
});
api.attach(rt);
await rt.ready;
await api.start();
const url = new URL(api.url);
const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: api.credentials.caPem });
const auth = `Bearer ${api.credentials.token}`;

function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: Number(url.port),
        path,
        method,
        agent,
        headers: { Authorization: auth, Accept: 'application/json', ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 0) >= 300)
            reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`));
          else resolve(text);
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

// One open watch on services; each watch-latency round writes and waits for its event.
let pending: { name: string; resolve: () => void } | undefined;
const watchReq = request(
  {
    host: url.hostname,
    port: Number(url.port),
    path: '/api/v1/namespaces/default/services?watch=1&resourceVersion=0',
    headers: { Authorization: auth },
    ca: api.credentials.caPem,
  },
  (res) => {
    let buf = '';
    res.on('data', (c: Buffer) => {
      buf += c.toString();
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (pending && line.includes(`"name":"${pending.name}"`) && line.startsWith('{"type":"MODIFIED"')) {
          const p = pending;
          pending = undefined;
          p.resolve();
        }
        i = buf.indexOf('\n');
      }
    });
  },
);
watchReq.end();

const MERGE = { 'Content-Type': 'application/merge-patch+json' };
let n = 0;

afterAll(async () => {
  watchReq.destroy();
  agent.destroy();
  await api.stop();
  await rt.stop();
});

describe(`Kubernetes API, ${SERVICES} services`, () => {
  bench('list services (JSON)', async () => {
    await call('GET', '/api/v1/namespaces/default/services');
  });
  bench('list services (Table, as kubectl get)', async () => {
    await call('GET', '/api/v1/namespaces/default/services?limit=500', undefined, {
      Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    });
  });
  bench('get one service', async () => {
    await call('GET', '/api/v1/namespaces/default/services/svc-500');
  });
  bench('write: merge patch of a service label (writes/s = hz)', async () => {
    n++;
    await call(
      'PATCH',
      `/api/v1/namespaces/default/services/svc-${n % SERVICES}`,
      { metadata: { labels: { round: String(n) } } },
      MERGE,
    );
  });
  bench('watch latency: patch until the MODIFIED event arrives', async () => {
    n++;
    const name = `svc-${n % SERVICES}`;
    const seen = new Promise<void>((resolve) => {
      pending = { name, resolve };
    });
    await call(
      'PATCH',
      `/api/v1/namespaces/default/services/${name}`,
      { metadata: { labels: { round: String(n) } } },
      MERGE,
    );
    await seen;
  });
});
