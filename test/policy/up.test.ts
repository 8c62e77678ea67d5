/**
 * NetworkPolicy on real traffic under `kpath up` (iptables mode): a default-deny ingress plus an
 * allow rule for one client pod. Allowed clients get answers; denied ones are held unanswered and
 * closed (or reset with policyReject); denials are counted per policy and listed by the admin API;
 * a reload applies to new connections while an established one keeps working.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  get,
  getJSON,
  service,
  up,
  waitFor,
  writeCluster,
} from '../up/helpers.js';

const clientPod = (name: string, role: string, node: string) => `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: default
  labels:
    role: ${role}
spec:
  nodeName: ${node}
  containers:
    - name: echo
      image: kpath/echo
      ports:
        - containerPort: 8080
`;

const DENY = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
  namespace: default
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;
const ALLOW = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-frontend
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
    - from:
        - podSelector:
            matchLabels:
              role: frontend
      ports:
        - port: http
        - port: 8080
          protocol: UDP
`;

function clusterYaml(slot: number, policies: string): string {
  const a = addrs(slot);
  return baseCluster(
    slot,
    `${echoDeployment('web', 2, 8080, { udp: true })}${service('web', { ip: a.svcIP(20), port: 8000 })}${service('web-udp', { ip: a.svcIP(21), port: 8053, udp: true, selector: 'web' })}${clientPod('frontend', 'frontend', 'node-a')}${clientPod('other', 'other', 'node-b')}${policies}`,
    'iptables',
  );
}

function twinOf(rt: Runtime, pod: string): string {
  const p = rt.pods().find((x) => x.pod === `default/${pod}`);
  if (!p)
    throw new Error(
      `no pod ${pod}: ${rt
        .pods()
        .map((x) => x.pod)
        .join(', ')}`,
    );
  return p.loopbackIP;
}

/** How a GET ended: its status, or the error code, and how long it took. */
async function attempt(host: string, port: number, local: string): Promise<{ how: string; ms: number }> {
  const t0 = Date.now();
  try {
    const r = await get(host, port, '/', local);
    return { how: String(r.status), ms: Date.now() - t0 };
  } catch (e) {
    return { how: (e as NodeJS.ErrnoException).code ?? (e as Error).message, ms: Date.now() - t0 };
  }
}

describe('kpath up: NetworkPolicy drops denied connections for real', () => {
  const SLOT = 41;
  const a = addrs(SLOT);
  const files = writeCluster(clusterYaml(SLOT, `${DENY}${ALLOW}`));
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({ files: [files.file], node: 'node-a', watch: false, limits: { dropHoldMs: 400 } });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('the allowed client pod reaches the service; the others are held unanswered, then closed', async () => {
    const ok = await get(a.svcTwin(20), 8000, '/', twinOf(rt, 'frontend'));
    expect(ok.status).toBe(200);
    expect(String(ok.json().pod)).toMatch(/^web-/);
    const denied = await attempt(a.svcTwin(20), 8000, twinOf(rt, 'other'));
    expect(denied.how).not.toBe('200');
    expect(denied.ms).toBeGreaterThanOrEqual(350);
    // A process on the node: its address matches no pod selector either.
    const node = await attempt(a.svcTwin(20), 8000, '127.0.0.1');
    expect(node.how).not.toBe('200');
  });

  it('denials are listed by the admin API and counted per policy', async () => {
    const admin = rt.addresses().metrics!;
    const r = (await getJSON(admin, '/api/v1/denials')) as { denials: Record<string, unknown>[] };
    const other = r.denials.find((d) => String(d.client).startsWith(`10.${200 + SLOT}.2.`));
    expect(other).toMatchObject({
      protocol: 'TCP',
      servicePort: 'default/web:http',
      direction: 'Ingress',
      policies: ['default/allow-frontend', 'default/default-deny'],
      action: 'drop',
    });
    expect(String(other!.reason)).toMatch(
      /no rule allows TCP\/8080 from 10\.241\.2\.\d+ \(pod default\/other\)/,
    );
    const metrics = (await get(admin.split(':')[0]!, Number(admin.split(':')[1]), '/metrics')).body;
    expect(metrics).toMatch(
      /kpath_policy_denials_total\{policy="default\/default-deny",direction="Ingress"\} 2/,
    );
    const io = bufferIO();
    expect(await main(['policy', 'denials', '--admin', admin], io)).toBe(0);
    const lines = io.stdout().trim().split('\n');
    expect(lines[0]).toMatch(
      /^TIME\s+PROTO\s+CLIENT\s+SERVICE\s+ENDPOINT\s+DIRECTION\s+POD\s+POLICIES\s+ACTION$/,
    );
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /TCP\s+10\.241\.2\.\d+:\d+\s+default\/web:http\s+10\.241\.\d+\.\d+:8080\s+Ingress\s+default\/web-\S+\s+default\/allow-frontend,default\/default-deny\s+drop$/,
    );
  });

  it('UDP: the allowed pod gets its echo; a denied datagram is dropped', async () => {
    const send = (local: string) =>
      new Promise<string>((resolve) => {
        const c = createSocket('udp4');
        const timer = setTimeout(() => {
          c.close();
          resolve('no reply');
        }, 600);
        c.once('message', (m) => {
          clearTimeout(timer);
          c.close();
          resolve(m.toString());
        });
        c.bind(0, local, () => c.send('hello', 8053, a.svcTwin(21)));
      });
    expect(await send(twinOf(rt, 'frontend'))).toBe('hello');
    expect(await send(twinOf(rt, 'other'))).toBe('no reply');
    const r = (await getJSON(rt.addresses().metrics!, '/api/v1/denials')) as {
      denials: Record<string, unknown>[];
    };
    expect(r.denials.some((d) => d.protocol === 'UDP' && d.servicePort === 'default/web-udp:udp')).toBe(true);
  });

  it('a reload applies to new connections; an established one continues', async () => {
    const frontend = twinOf(rt, 'frontend');
    const s = await dial(a.svcTwin(20), 8000, frontend);
    await new Promise((r) => setTimeout(r, 150));
    files.write(clusterYaml(SLOT, DENY));
    expect(await rt.reload()).toBe(true);
    const fresh = await attempt(a.svcTwin(20), 8000, frontend);
    expect(fresh.how).not.toBe('200');
    let body = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      body += d;
    });
    s.write('GET / HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n');
    await waitFor(() => body.includes('"pod"'), 'an answer on the established connection');
    expect(body).toMatch(/^HTTP\/1\.1 200/);
    s.destroy();
  });
});

describe('kpath up --policy-reject: denied TCP connections are reset at once', () => {
  const SLOT = 42;
  const a = addrs(SLOT);
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({
      files: [writeCluster(clusterYaml(SLOT, `${DENY}${ALLOW}`)).file],
      node: 'node-a',
      watch: false,
      policyReject: true,
    });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('reset, not held', async () => {
    const r = await attempt(a.svcTwin(20), 8000, twinOf(rt, 'other'));
    expect(r.how).toBe('ECONNRESET');
    expect(r.ms).toBeLessThan(2000);
    expect((await get(a.svcTwin(20), 8000, '/', twinOf(rt, 'frontend'))).status).toBe(200);
  });
});
