/**
 * Probes as kubelet runs them: the built-in echo server answers the probe ports a pod declares
 * (httpGet, tcpSocket, grpc health), so real charts become ready; a failing probe says why in
 * kubelet's words.
 */
import { createServer as createHttp } from 'node:http';
import { createServer as createH2 } from 'node:http2';
import { createServer as createTcp } from 'node:net';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { type ProbeSpec, probeWithReason } from '../../proxy/runtime/pods/probes.js';
import { addrs, baseCluster, memoryLogger, service, up, waitFor, writeCluster } from './helpers.js';

const SLOT = 24;
const a = addrs(SLOT);
const base = { initialDelayMs: 0, periodMs: 100, timeoutMs: 1000, failureThreshold: 1, successThreshold: 1 };
const spec = (action: ProbeSpec['action']): ProbeSpec => ({ ...base, action });
const HOST = `127.${200 + SLOT}.9.9`;

function listen(server: {
  listen: (port: number, host: string, cb: () => void) => unknown;
  address: () => unknown;
}) {
  return new Promise<number>((r) =>
    server.listen(0, HOST, () => r((server.address() as { port: number }).port)),
  );
}
/** A port nothing listens on: bind, learn the port, close. */
async function closedPort(): Promise<number> {
  const s = createTcp();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

describe('probe failures say why', () => {
  it('connection refused, HTTP 500, gRPC NOT_SERVING, exec exit status', async () => {
    const refused = await closedPort();
    expect(await probeWithReason(spec({ kind: 'tcp', port: refused }), HOST, {}, '10.244.1.5')).toEqual({
      ok: false,
      reason: `dial tcp 10.244.1.5:${refused}: connect: connection refused`,
    });
    expect(
      await probeWithReason(spec({ kind: 'http', port: refused, path: '/healthz' }), HOST, {}, '10.244.1.5'),
    ).toEqual({
      ok: false,
      reason: `Get "http://10.244.1.5:${refused}/healthz": dial tcp 10.244.1.5:${refused}: connect: connection refused`,
    });
    const h = createHttp((_req, res) => res.writeHead(500).end());
    const hp = await listen(h);
    expect(await probeWithReason(spec({ kind: 'http', port: hp, path: '/' }), HOST, {})).toEqual({
      ok: false,
      reason: 'HTTP probe failed with statuscode: 500',
    });
    h.close();
    const g = createH2();
    g.on('stream', (stream) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x02])); // NOT_SERVING
      });
    });
    const gp = await listen(g);
    expect(await probeWithReason(spec({ kind: 'grpc', port: gp, service: '' }), HOST, {})).toEqual({
      ok: false,
      reason: 'service unhealthy (responded with "NOT_SERVING")',
    });
    g.close();
    expect(await probeWithReason(spec({ kind: 'exec', command: ['sh', '-c', 'exit 3'] }), HOST, {})).toEqual({
      ok: false,
      reason: 'command "sh -c exit 3" exited with 3',
    });
  });
});

describe('the echo server answers the probes a pod declares', () => {
  it('httpGet on an undeclared port, tcpSocket, grpc health: the pod becomes ready', async () => {
    const mem = memoryLogger('info');
    const yaml = baseCluster(
      SLOT,
      `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ctrl
  namespace: default
spec:
  replicas: 1
  selector: {matchLabels: {app: ctrl}}
  template:
    metadata: {labels: {app: ctrl}}
    spec:
      containers:
        - name: controller
          image: registry.k8s.io/ingress-nginx/controller:v1.12.0
          ports:
            - {name: http, containerPort: 8080}
          readinessProbe:
            httpGet: {path: /healthz, port: 10254}
            periodSeconds: 1
          livenessProbe:
            tcpSocket: {port: 8080}
            periodSeconds: 1
        - name: grpc
          image: example/grpc
          ports:
            - {name: grpc, containerPort: 9555}
          readinessProbe:
            grpc: {port: 9556}
            periodSeconds: 1
${service('ctrl', { ip: a.svcIP(20), port: 80 })}`,
    );
    const rt = await up({
      files: [writeCluster(yaml).file],
      logger: mem.logger,
      watch: false,
      timings: { probeTimeScale: 0.1 },
    });
    try {
      await waitFor(() => rt.pods()[0]?.ready, 'ctrl ready');
      expect(rt.pods()[0]!.containers.map((c) => c.ready)).toEqual([true, true]);
      // The endpoint is in the service.
      const eps = rt.mode!.endpoints().find((e) => e.servicePort === 'default/ctrl:http')!;
      expect(eps.endpoints).toHaveLength(1);
      // Nothing refused a probe (a slow machine may still time one out at 0.1 s).
      expect(mem.lines().filter((l) => /refused|statuscode|unhealthy/.test(String(l.reason)))).toEqual([]);
    } finally {
      await rt.stop();
    }
  });
});

describe('kpath get pods --admin: live readiness and restarts', () => {
  it('shows a crash-looping pod, a pod failing its readiness probe and a ready one', async () => {
    const mem = memoryLogger('info');
    const pod = (name: string, spec: string) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
  annotations:
    kpath.dev/exec: "true"
spec:
  nodeName: node-a
  containers:
${spec}`;
    const yaml = baseCluster(
      SLOT + 10,
      pod('crashy', '    - name: c\n      image: busybox\n      command: ["sh", "-c", "exit 1"]\n') +
        pod(
          'unready',
          '    - name: c\n      image: kpath/echo\n      ports: [{containerPort: 8080}]\n' +
            '      readinessProbe:\n        exec: {command: ["sh", "-c", "exit 1"]}\n        periodSeconds: 1\n',
        ) +
        pod(
          'fine',
          '    - name: c\n      image: kpath/echo\n      ports: [{containerPort: 8080}]\n' +
            '      readinessProbe:\n        httpGet: {path: /healthz, port: 8080}\n        periodSeconds: 1\n',
        ),
    );
    const file = writeCluster(yaml).file;
    const rt = await up({
      files: [file],
      logger: mem.logger,
      watch: false,
      timings: { probeTimeScale: 0.1, backoffInitialMs: 300, backoffMaxMs: 3000 },
    });
    try {
      // Restarted once, then exited again and now waiting out its 600 ms back-off.
      const crashy = () => rt.pods().find((p) => p.pod === 'default/crashy')?.containers[0];
      await waitFor(
        () =>
          (crashy()?.restarts ?? 0) >= 1 &&
          crashy()?.state === 'waiting' &&
          rt.pods().find((p) => p.pod === 'default/fine')?.ready,
        'a restart and a ready pod',
      );
      await waitFor(
        () =>
          mem.lines().some((l) => l.msg === 'Readiness probe failed: command "sh -c exit 1" exited with 1'),
        'the readiness failure logged with its reason',
      );
      const io = bufferIO();
      expect(await main(['get', 'pods', '-f', file, '--admin', rt.addresses().metrics!], io)).toBe(0);
      const rows = Object.fromEntries(
        io
          .stdout()
          .trim()
          .split('\n')
          .slice(1)
          .map((l) => l.split(/\s+/))
          .map((c) => [c[0], c.slice(1, 4)]),
      );
      expect(rows.fine).toEqual(['1/1', 'Running', '0']);
      expect(rows.unready).toEqual(['0/1', 'Running', '0']);
      expect(rows.crashy![0]).toBe('0/1');
      expect(rows.crashy![1]).toBe('CrashLoopBackOff');
      expect(Number(rows.crashy![2])).toBeGreaterThanOrEqual(1);
    } finally {
      await rt.stop();
    }
  });
});
