/**
 * kube-proxy's stale UDP conntrack cleanup under `kpath up`: a client that keeps sending from one
 * socket is DNATed by its conntrack entry, so when its endpoint stops serving, only deleting that
 * entry moves it (pkg/proxy/conntrack/cleanup.go: `--orig-dst VIP --orig-port-dst PORT --reply-src EP`).
 * Without the cleanup the relay and the emulated entry both live on and the client keeps reaching
 * the pod that left the service. A service left with no serving endpoint keeps its entries.
 */
import { createSocket, type Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../proxy/runtime/index.js';
import { addrs, baseCluster, up, writeCluster } from './helpers.js';

function deployment(name: string, labels: Record<string, string>): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `        ${k}: ${v}\n`)
    .join('');
  return `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels:
      deploy: ${name}
  template:
    metadata:
      labels:
        deploy: ${name}
${l}    spec:
      containers:
        - name: echo
          image: kpath/echo
          ports:
            - {name: udp, containerPort: 8080, protocol: UDP}
`;
}

function udpService(ip: string, selector: string, nodePort?: number): string {
  return `---
apiVersion: v1
kind: Service
metadata:
  name: stream
spec:
  type: ${nodePort ? 'NodePort' : 'ClusterIP'}
  clusterIP: ${ip}
  selector: {${selector}}
  ports:
    - {name: udp, port: 8125, targetPort: 8080, protocol: UDP${nodePort ? `, nodePort: ${nodePort}` : ''}}
`;
}

function ask(sock: Socket, host: string, port: number): Promise<{ pod: string; client: string }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no UDP answer from ${host}:${port} within 5 s`)), 5000);
    sock.once('message', (m) => {
      clearTimeout(t);
      resolve(JSON.parse(m.toString()) as { pod: string; client: string });
    });
    sock.send('whoami', port, host);
  });
}

for (const [mode, slot] of [
  ['iptables', 9],
  ['ipvs', 13],
] as const) {
  describe(`kpath up --mode ${mode}: a UDP client moves when its endpoint stops serving`, () => {
    const a = addrs(slot);
    const apps = `${deployment('blue', { app: 'web', color: 'blue' })}${deployment('green', { app: 'web', color: 'green' })}${deployment('client', { app: 'client' })}`;
    const cluster = (selector: string) =>
      baseCluster(slot, `${apps}${udpService(a.svcIP(30), selector, a.nodePort(30))}`, mode);
    const files = writeCluster(cluster('app: web'));
    let rt: Runtime;
    let sock: Socket;
    beforeAll(async () => {
      // The relay's idle timeout is long, so only the cleanup can end the client's flow.
      rt = await up({
        files: [files.file],
        node: 'node-a',
        watch: false,
        limits: { udpIdleTimeoutMs: 60_000 },
      });
      const client = rt.pods().find((p) => p.pod.includes('client-'))!;
      sock = createSocket('udp4');
      await new Promise<void>((resolve) => sock.bind(0, client.loopbackIP, resolve));
    });
    afterAll(async () => {
      sock?.close();
      await rt?.stop();
    });

    it('stays on its pod while it serves, moves to the other once it stops, and stays when none is left', async () => {
      // A second stream, to the NodePort on the node's twin (kube-proxy's `*:nodePort` filter).
      const outside = createSocket('udp4');
      const np = await ask(outside, a.nodeTwin(11), a.nodePort(30));
      const first = await ask(sock, a.svcTwin(30), 8125);

      for (let i = 0; i < 3; i++) expect((await ask(sock, a.svcTwin(30), 8125)).pod).toBe(first.pod);
      const firstColor = first.pod.includes('blue-') ? 'blue' : 'green';
      const other = firstColor === 'blue' ? 'green' : 'blue';

      // The first pod leaves the service (still running, still answering on its own address).
      files.write(cluster(`color: ${other}`));
      expect(await rt.reload()).toBe(true);
      const moved = await ask(sock, a.svcTwin(30), 8125);

      expect(moved.pod).toContain(`${other}-`);
      for (let i = 0; i < 3; i++) expect((await ask(sock, a.svcTwin(30), 8125)).pod).toBe(moved.pod);
      const npMoved = await ask(outside, a.nodeTwin(11), a.nodePort(30));
      expect(npMoved.pod).toContain(`${other}-`);
      if (!np.pod.includes(`${other}-`)) expect(npMoved.pod).not.toBe(np.pod);
      outside.close();

      // No serving endpoint left: kube-proxy skips the service, the client's entry and flow stay.
      files.write(cluster('color: none'));
      expect(await rt.reload()).toBe(true);
      expect((await ask(sock, a.svcTwin(30), 8125)).pod).toBe(moved.pod);
    });
  });
}
