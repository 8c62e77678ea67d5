/** Pods for real: child-process containers with env, readiness probes, mode selection, bind errors, the up command. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as upCmd from '../../cli/commands/up.js';
import { bufferIO } from '../../cli/io.js';
import { type Runtime, startRuntime } from '../../proxy/runtime/index.js';
import { addrs, baseCluster, echoDeployment, get, service, up, waitFor, writeCluster } from './helpers.js';

const SLOT = 4;
const a = addrs(SLOT);
const work = mkdtempSync(join(tmpdir(), 'kpath-pods-'));
const script = join(work, 'server.mjs');
writeFileSync(
  script,
  `import http from 'node:http';
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(POD_|NODE_NAME|PORT|KPATH_|API_|GREETING)/.test(k)));
http.createServer((req, res) => res.end(JSON.stringify(env))).listen(Number(process.env.PORT), process.env.KPATH_POD_LOOPBACK_IP);
`,
);

const yaml = baseCluster(
  SLOT,
  `---
apiVersion: v1
kind: Pod
metadata:
  name: app
  namespace: default
  labels:
    app: app
spec:
  nodeName: node-b
  containers:
    - name: main
      image: node
      command: ["${process.execPath}", "${script}"]
      env:
        - name: GREETING
          value: hello
      ports:
        - containerPort: 9090
` +
    service('app', { ip: a.svcIP(40), port: 9000, targetPort: 9090 }) +
    service('api', { ip: a.svcIP(41), port: 9100, selector: 'nothing' }) +
    `---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: probed
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels:
      app: probed
  template:
    metadata:
      labels:
        app: probed
    spec:
      containers:
        - name: echo
          image: kpath/echo
          ports:
            - containerPort: 8080
          readinessProbe:
            exec:
              command: ["sh", "-c", "test ! -f ${work}/$POD_NAME.down"]
            periodSeconds: 1
            failureThreshold: 1
` +
    service('probed', { ip: a.svcIP(42), port: 8000 }),
);

describe('pods', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({
      files: [writeCluster(yaml).file],
      exec: true,
      timings: { probeTimeScale: 0.1, backoffInitialMs: 100 },
    });
  });
  afterAll(async () => {
    await rt?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('runs a container with command as a child process with the pod and service env vars', async () => {
    const r = await waitFor(async () => get(a.svcTwin(40), 9000).catch(() => undefined), 'app answering');
    const env = r.json();
    expect(env).toMatchObject({
      POD_NAME: 'app',
      POD_NAMESPACE: 'default',
      NODE_NAME: 'node-b',
      PORT: '9090',
      GREETING: 'hello',
      API_SERVICE_HOST: a.svcTwin(41),
      API_SERVICE_PORT: '9100',
      API_SERVICE_PORT_HTTP: '9100',
      API_PORT: `tcp://${a.svcTwin(41)}:9100`,
      API_PORT_9100_TCP: `tcp://${a.svcTwin(41)}:9100`,
      API_PORT_9100_TCP_PROTO: 'tcp',
      API_PORT_9100_TCP_PORT: '9100',
      API_PORT_9100_TCP_ADDR: a.svcTwin(41),
    });
    expect(String(env.POD_IP)).toMatch(new RegExp(`^10\\.${200 + SLOT}\\.2\\.`));
    expect(env.KPATH_POD_LOOPBACK_IP).toBe(String(env.POD_IP).replace(/^10\./, '127.'));
  });

  it('restarts a crashed process container with back-off', async () => {
    const before = rt.pods().find((p) => p.pod === 'default/app')!.containers[0]!;
    rt.kill('default/app');
    await waitFor(
      () => rt.pods().find((p) => p.pod === 'default/app')!.containers[0]!.restarts === before.restarts + 1,
      'restart',
    );
    expect(
      (await waitFor(async () => get(a.svcTwin(40), 9000).catch(() => undefined), 'app back')).status,
    ).toBe(200);
  });

  it('a pod failing its readiness probe leaves the endpoints and traffic stops going to it', async () => {
    await waitFor(
      () =>
        rt
          .pods()
          .filter((p) => p.pod.startsWith('default/probed-'))
          .every((p) => p.ready),
      'probed pods ready',
      5000,
    );
    const [p1, p2] = rt.pods().filter((p) => p.pod.startsWith('default/probed-'));
    const name = p1!.pod.split('/')[1]!;
    writeFileSync(join(work, `${name}.down`), '');
    await waitFor(
      () =>
        !rt
          .mode!.endpoints()
          .find((e) => e.servicePort === 'default/probed:http')!
          .endpoints.some((e) => e.startsWith(`${p1!.podIP}:`)),
      'endpoint removed',
    );
    for (let i = 0; i < 6; i++)
      expect((await get(a.svcTwin(42), 8000)).json().pod).toBe(p2!.pod.split('/')[1]);
    rmSync(join(work, `${name}.down`));
    await waitFor(
      () => rt.mode!.endpoints().find((e) => e.servicePort === 'default/probed:http')!.endpoints.length === 2,
      'endpoint back',
    );
    expect(existsSync(join(work, `${name}.down`))).toBe(false);
  });
});

describe('startup errors', () => {
  it('refuses nftables with a clear message, from the flag or the KubeProxyConfiguration', async () => {
    const file = writeCluster(baseCluster(SLOT + 10, '', 'nftables')).file;
    const rt1 = startRuntime({ files: [file], health: null, metrics: null });
    await expect(rt1.ready).rejects.toMatchObject({
      code: 'KPATH_E_UNSUPPORTED',
      message: expect.stringMatching(/mode: nftables in the KubeProxyConfiguration.*--mode iptables/),
    });
    await rt1.stop();
    const other = writeCluster(baseCluster(SLOT + 11, '', 'iptables')).file;
    const rt2 = startRuntime({ files: [other], mode: 'nftables', health: null, metrics: null });
    await expect(rt2.ready).rejects.toMatchObject({
      code: 'KPATH_E_UNSUPPORTED',
      message: expect.stringMatching(/--mode nftables/),
    });
    await rt2.stop();
  });

  it('a listener that cannot bind names the address, the reason and who holds it', async () => {
    const s = 50 + SLOT;
    const b = addrs(s);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(8000, b.svcTwin(20), r));
    const rt = startRuntime({
      files: [
        writeCluster(
          baseCluster(s, echoDeployment('web', 1) + service('web', { ip: b.svcIP(20), port: 8000 })),
        ).file,
      ],
      health: null,
      metrics: null,
    });
    await expect(rt.ready).rejects.toMatchObject({
      code: 'KPATH_E_LISTEN',
      message: expect.stringMatching(
        new RegExp(
          `${b.svcTwin(20).replace(/\./g, '\\.')}:8000/TCP .*address already in use by this kpath process`,
        ),
      ),
    });
    await rt.stop();
    blocker.close();
  });

  it('kpath up runs until stopped and exits 0', async () => {
    const s = 40 + SLOT;
    const b = addrs(s);
    const file = writeCluster(
      baseCluster(s, echoDeployment('web', 2) + service('web', { ip: b.svcIP(20), port: 8000 })),
    ).file;
    const io = bufferIO();
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const code = upCmd.run(
      {
        f: [file],
        healthAddress: '127.0.0.1:0',
        metricsAddress: '127.0.0.1:0',
        logLevel: 'silent',
        drainTimeout: 1,
        idleTimeout: 0,
        maxConnections: 0,
        watch: false,
      },
      io,
      until,
    );
    await waitFor(async () => get(b.svcTwin(20), 8000).catch(() => undefined), 'up serving');
    expect(io.stderr()).toMatch(
      /^kpath up: ready, 2 pods, mode userspace\. From this host:\n {2}default\/web {3}curl http:\/\//,
    );
    stop();
    expect(await code).toBe(0);
  });
});
