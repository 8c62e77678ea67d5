/** Shared helpers for the kpath up tests: a small cluster per test file on its own addresses. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { expect } from 'vitest';
import { nativeAddon } from '../../proxy/native/load.js';
import { type Runtime, type RuntimeOptions, startRuntime } from '../../proxy/runtime/index.js';

/**
 * Each test file takes a slot so files can run in parallel without sharing twins or node ports:
 * pods 10.(200+slot).0.0/16, services 10.(100+slot).0.0/16, nodes 10.(150+slot).0.11 and .12,
 * node ports from 30000 + 100*slot.
 */
export function addrs(slot: number) {
  return {
    podCIDR: `10.${200 + slot}.0.0/16`,
    serviceCIDR: `10.${100 + slot}.0.0/16`,
    svcIP: (n: number) => `10.${100 + slot}.0.${n}`,
    svcTwin: (n: number) => `127.${100 + slot}.0.${n}`,
    nodeIP: (n: number) => `10.${150 + slot}.0.${n}`,
    nodeTwin: (n: number) => `127.${150 + slot}.0.${n}`,
    podTwinPrefix: `127.${200 + slot}.`,
    nodePort: (n: number) => 30000 + 100 * slot + n,
  };
}

/** `dnsAddon`: let kpath add kube-dns (off by default: most of these clusters are about other things). */
export function baseCluster(
  slot: number,
  extra = '',
  proxyMode = 'userspace',
  opts: { dnsAddon?: boolean } = {},
): string {
  const a = addrs(slot);
  return `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata:
  name: t${slot}
spec:
  podCIDR: ${a.podCIDR}
  serviceCIDR: ${a.serviceCIDR}
  nodePortRange: ${a.nodePort(0)}-${a.nodePort(99)}
  dns:
    addon: ${opts.dnsAddon ?? false}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ${proxyMode}
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
spec:
  podCIDR: 10.${200 + slot}.1.0/24
status:
  addresses:
    - type: InternalIP
      address: ${a.nodeIP(11)}
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
spec:
  podCIDR: 10.${200 + slot}.2.0/24
status:
  addresses:
    - type: InternalIP
      address: ${a.nodeIP(12)}
${extra}`;
}

export function echoDeployment(
  name: string,
  replicas: number,
  port = 8080,
  opts: { udp?: boolean; namespace?: string } = {},
): string {
  return `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${opts.namespace ?? 'default'}
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
        - name: echo
          image: kpath/echo
          ports:
            - name: http
              containerPort: ${port}
${opts.udp ? `            - name: udp\n              containerPort: ${port}\n              protocol: UDP\n` : ''}`;
}

export function service(
  name: string,
  o: {
    ip: string;
    port: number;
    targetPort?: number | string;
    type?: string;
    nodePort?: number;
    affinity?: number;
    udp?: boolean;
    selector?: string;
  },
): string {
  return `---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  type: ${o.type ?? 'ClusterIP'}
  clusterIP: ${o.ip}
  selector:
    app: ${o.selector ?? name}
${o.affinity ? `  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: ${o.affinity}\n` : ''}  ports:
    - name: ${o.udp ? 'udp' : 'http'}
      port: ${o.port}
      targetPort: ${o.targetPort ?? 8080}
${o.udp ? '      protocol: UDP\n' : ''}${o.nodePort ? `      nodePort: ${o.nodePort}\n` : ''}`;
}

export function writeCluster(yaml: string): { dir: string; file: string; write(y: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-up-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, yaml);
  return { dir, file, write: (y) => writeFileSync(file, y) };
}

/** A logger that keeps JSON lines for assertions. */
export function memoryLogger(level = 'debug'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      out.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return {
    logger: pino({ level }, dest),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export async function up(opts: RuntimeOptions): Promise<Runtime> {
  const rt = startRuntime({
    health: { host: '127.0.0.1', port: 0 },
    metrics: { host: '127.0.0.1', port: 0 },
    seed: 42,
    ...opts,
  });
  await rt.ready;
  return rt;
}

export interface HttpReply {
  status: number;
  body: string;
  json: () => Record<string, unknown>;
  /** The client socket's own port (the kernel picks it unless the caller chose one). */
  localPort: number;
}

/**
 * One GET with a fresh connection, optionally from a chosen local (loopback) address and port.
 */
export function get(
  host: string,
  port: number,
  path = '/',
  localAddress?: string,
  localPort?: number,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host,
        port,
        path,
        agent: false,
        ...(localAddress ? { localAddress } : {}),
        ...(localPort ? { localPort } : {}),
        headers: { connection: 'close' },
      },
      (res) => {
        const localPort = res.socket.localPort ?? 0;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            json: () => JSON.parse(body) as Record<string, unknown>,
            localPort,
          }),
        );
      },
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export function dial(host: string, port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, allowHalfOpen: true, ...(localAddress ? { localAddress } : {}) });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with how the socket ended: 'reset' (ECONNRESET), 'end' (FIN) or 'close'. */
export function ending(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let how = 'close';
    s.on('error', (e: NodeJS.ErrnoException) => {
      how = e.code === 'ECONNRESET' ? 'reset' : (e.code ?? 'error');
    });
    s.on('end', () => {
      if (how === 'close') how = 'end';
      s.end();
    });
    s.on('close', () => resolve(how));
    s.resume();
  });
}

export async function waitFor<T>(
  fn: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
  everyMs = 20,
): Promise<NonNullable<T>> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function getJSON(addr: string, path: string): Promise<Record<string, unknown>> {
  const [host, port] = addr.split(':');
  const r = await get(host!, Number(port), path);
  return r.json();
}

export type Relay = 'kernel' | 'streams';

/** The relays a file runs its tests through, each on a slot of its own: the kernel's (splice) when
 *  the native addon is built, and Node's stream pipe. */
export function relaysFor(kernelSlot: number, streamsSlot: number): [Relay, number][] {
  return nativeAddon()
    ? [
        ['kernel', kernelSlot],
        ['streams', streamsSlot],
      ]
    : [['streams', streamsSlot]];
}

/**
 * A client asks host:port (an echo pod's HTTP) for 16 MiB and reads nothing for `pauseMs`: the
 * proxy holds under 1 MiB meanwhile; then the client reads and gets every byte.
 */
export async function expectSlowReaderBounded(
  rt: Runtime,
  host: string,
  port: number,
  pauseMs: number,
): Promise<void> {
  const total = 16 * 1024 * 1024;
  const s = await dial(host, port);
  s.pause();
  s.write(`GET /bytes/${total} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  await new Promise((r) => setTimeout(r, pauseMs));
  expect(rt.buffered()).toBeLessThan(1024 * 1024);
  let got = 0;
  s.on('data', (d: Buffer) => {
    got += d.length;
  });
  await ending(s);
  expect(got).toBeGreaterThan(total);
}
