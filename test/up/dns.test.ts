/**
 * The built-in kube-dns under kpath up: `dig @<kube-dns twin>` goes through the service's UDP and TCP
 * listeners to the DNS pods, which answer from the live cluster (and follow reloads).
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../proxy/runtime/index.js';
import { addrs, baseCluster, echoDeployment, service, up, waitFor, writeCluster } from './helpers.js';

const SLOT = 7;
const a = addrs(SLOT);
const root = process.getuid?.() === 0;

function dnsCluster(extra = ''): string {
  return baseCluster(
    SLOT,
    `${echoDeployment('web', 2)}${service('web', { ip: a.svcIP(20), port: 8000 })}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
spec:
  replicas: 2
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      containers:
        - name: coredns
          image: registry.k8s.io/coredns/coredns:v1.11.1
          ports:
            - name: dns
              containerPort: 53
              protocol: UDP
            - name: dns-tcp
              containerPort: 53
            - name: metrics
              containerPort: 9153
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
spec:
  clusterIP: ${a.svcIP(10)}
  selector:
    k8s-app: kube-dns
  ports:
    - name: dns
      port: 53
      protocol: UDP
    - name: dns-tcp
      port: 53
${extra}`,
  );
}

function dig(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'dig',
      ['+tries=1', '+time=2', `@${a.svcTwin(10)}`, ...args],
      { timeout: 10_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
}

describe.skipIf(!root)('kube-dns under kpath up (needs root for port 53)', () => {
  let rt: Runtime;
  let file: ReturnType<typeof writeCluster>;
  beforeAll(async () => {
    file = writeCluster(dnsCluster());
    rt = await up({ files: [file.file], watch: false, limits: { udpIdleTimeoutMs: 10_000 } });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('DNS pods run the built-in server; dig through the service answers over UDP and TCP', async () => {
    expect(
      rt
        .pods()
        .filter((p) => p.pod.startsWith('kube-system/coredns-'))
        .every((p) => p.containers[0]!.kind === 'dns'),
    ).toBe(true);
    expect((await dig('+short', 'web.default.svc.cluster.local')).trim()).toBe(a.svcIP(20));
    expect((await dig('+tcp', '+short', 'web.default.svc.cluster.local')).trim()).toBe(a.svcIP(20));
    const nx = await dig('nope.default.svc.cluster.local');
    expect(nx).toMatch(/status: NXDOMAIN/);
    // The service's conntrack shows the DNS flows went through the proxy.
    expect(rt.conntrack.list().some((c) => c.service?.startsWith('kube-system/kube-dns'))).toBe(true);
  });

  it('answers follow a reload', async () => {
    file.write(dnsCluster(service('api', { ip: a.svcIP(30), port: 9000 })));
    expect(await rt.reload()).toBe(true);
    await waitFor(
      async () => (await dig('+short', 'api.default.svc.cluster.local')).trim() === a.svcIP(30),
      'the new service in DNS',
    );
  });
});
