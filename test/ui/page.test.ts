/**
 * The /ui/ page in real Chromium (Debian's chromium, driven by playwright-core over
 * --remote-debugging-pipe; no browser download) against an in-process kpath up on slot 45.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../../proxy/runtime/index.js';
import {
  addrs,
  baseCluster,
  dial,
  echoDeployment,
  get,
  service,
  up,
  waitFor,
  writeCluster,
} from '../up/helpers.js';
import { type Chromium, HAVE_CHROMIUM, launchChromium, SKIP_REASON } from './chromium.js';

const SLOT = 45;
const A = addrs(SLOT);
const PROBE_DIR = mkdtempSync(join(tmpdir(), 'kp-ui-probe-'));
// Ready while ${PROBE_DIR}/client.down does not exist (probed every 100 ms with probeTimeScale 0.1).
const CLIENT_POD = `---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: default
spec:
  containers:
    - name: echo
      image: kpath/echo
      readinessProbe:
        exec:
          command: ["sh", "-c", "test ! -f ${PROBE_DIR}/client.down"]
        periodSeconds: 1
        failureThreshold: 1
`;
if (!HAVE_CHROMIUM) console.warn(`test/ui/page.test.ts skipped: ${SKIP_REASON}`);

/**
 * kube-proxy's service port chain name (pkg/proxy/iptables/proxier.go, servicePortPolicyClusterChain ->
 * portProtoHash): "KUBE-SVC-" + the first 16 characters of base32(sha256(servicePortName + protocol)).
 */
function kubeSvcChain(servicePortName: string, protocol: string): string {
  const digest = createHash('sha256')
    .update(servicePortName + protocol)
    .digest();
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let v = 0;
  let out = '';
  for (const b of digest) {
    v = ((v << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `KUBE-SVC-${out.slice(0, 16)}`;
}

describe.skipIf(!HAVE_CHROMIUM)('the kpath up page in Chromium', () => {
  let rt: Runtime;
  let chrome: Chromium;
  let page: Page;
  let base: string;

  beforeAll(async () => {
    // The page's modules, compiled as npm run build does (fresh even when dist/ is stale).
    execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'proxy/ui/web/tsconfig.json']);
    const c = writeCluster(
      baseCluster(
        SLOT,
        `${echoDeployment('web', 3)}${service('web', { ip: A.svcIP(1), port: 80, type: 'NodePort', nodePort: A.nodePort(1) })}${service('db', { ip: A.svcIP(2), port: 5432, selector: 'nothing' })}${CLIENT_POD}`,
        'iptables',
      ),
    );
    // exec: the readiness probe's command runs on the host (kpath up --exec).
    rt = await up({ files: [c.file], watch: false, exec: true, timings: { probeTimeScale: 0.1 } });
    // Ready by the probes, and folded into the cluster the proxy serves (the page's view).
    await waitFor(
      () => rt.pods().every((p) => p.ready) && rt.snapshot()!.pods.every((p) => p.ready),
      'every pod ready',
    );
    base = `http://${rt.addresses().metrics}`;
    chrome = await launchChromium();
    page = await chrome.page(base);
  }, 60_000);

  afterAll(async () => {
    await chrome?.close();
    await rt?.stop();
    rmSync(PROBE_DIR, { recursive: true, force: true });
  });

  it('lists every node, pod and service, with pod IPs, readiness, cluster IPs and endpoints', async () => {
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`${base}/`)) outside.push(r.url());
    });
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('body[data-ready=cluster]');
    // Readiness probes may still be running their first period when the page loads: wait for the four
    // pods to be drawn ready (the live stream updates them) before reading the page.
    await page.waitForFunction(
      "[...document.querySelectorAll('[data-pod]')].filter((e) => e.classList.contains('ready')).length === 4",
    );
    const snap = rt.snapshot()!;
    const nodes = await page.$$eval('[data-node]', (els) => els.map((e) => e.getAttribute('data-node')));
    expect(nodes).toEqual(['node-a', 'node-b']);
    const pods = await page.$$eval('[data-pod]', (els) =>
      els.map((e) => [e.getAttribute('data-pod'), e.querySelector('code')?.textContent]),
    );
    // The client pod and the manifest's three replicas, each with its pod IP from the pod CIDR, all ready.
    expect(pods.map((p) => p[0]!.replace(/-[a-z0-9]+-[a-z0-9]+$/, '-*')).sort()).toEqual([
      'default/client',
      'default/web-*',
      'default/web-*',
      'default/web-*',
    ]);
    // A topology redraw starts from the live state (proxy/ui/web/redraw.ts): once drawn ready, the
    // pods stay drawn ready while the page is read.
    const readyNow = await page.$$eval('[data-pod]', (els) => els.map((e) => e.classList.contains('ready')));
    expect(readyNow).toEqual([true, true, true, true]);
    for (const [name, ip] of pods) {
      expect(ip).toMatch(new RegExp(`^10\\.${200 + SLOT}\\.[12]\\.\\d+$`));
      expect(snap.pod('default', name!.split('/')[1]!)?.podIPs[0]?.text).toBe(ip);
    }
    const services = await page.$$eval('tr[data-service]', (els) =>
      els.map((e) => [
        e.getAttribute('data-service'),
        ...[...e.querySelectorAll('td')].map((td) => td.textContent),
      ]),
    );
    const byName = new Map(services.map((s) => [s[0], s]));
    expect([...byName.keys()].sort()).toEqual(['default/db', 'default/web']);
    const web = byName.get('default/web')!;
    expect(web[2]).toBe('NodePort');
    expect(web[3]).toBe(A.svcIP(1));
    expect(web[4]).toContain(`80/TCP → 8080`);
    expect(web[4]).toContain(`nodePort ${A.nodePort(1)}`);
    for (const [name, ip] of pods) if (name !== 'default/client') expect(web[5]).toContain(`${ip}:8080`);
    expect(web[5]).not.toContain(`${pods.find((p) => p[0] === 'default/client')![1]}:`);
    expect(byName.get('default/db')![5]).toBe('no endpoints');
    expect(await page.textContent('#mode')).toBe('proxy mode: iptables');
    // The picture: a line from the service to each of its three pods, none from db (no endpoints).
    const edges = await page.$$eval('#diagram path[data-edge]', (els) =>
      els.map((e) => e.getAttribute('data-edge')),
    );
    expect(edges.sort()).toEqual(
      pods
        .filter((p) => p[0] !== 'default/client')
        .map((p) => `default/web>${p[0]}`)
        .sort(),
    );
    expect(await page.textContent('#network')).toBe(
      `pods ${A.podCIDR} · services ${A.serviceCIDR} · pod network: bridge (host-gw)`,
    );
    expect(outside).toEqual([]);
  });

  it('shows a connection the test makes in the live table, and drops it once it closes', async () => {
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('body[data-ready=cluster]');
    const s: Socket = await dial(A.svcTwin(1), 80);
    const sport = s.localPort!;
    let traceHref = '';
    try {
      const row = page.locator(`#conntrack tr[data-sport="${sport}"]`);
      await row.waitFor({ timeout: 5000 });
      const cells = await row.locator('td').allTextContents();
      expect(cells[0]).toBe('tcp');
      expect(cells[1]).toBe('ESTABLISHED');
      expect(cells[2]).toContain(`:${sport} → ${A.svcIP(1)}:80`);
      expect(cells[4]).toBe('default/web:http');
      expect(cells[5]).toMatch(new RegExp(`^10\\.${200 + SLOT}\\.[12]\\.\\d+:8080$`));
      expect(await page.textContent('td[data-count="default/web:http"]')).toBe('1');
      traceHref = (await row.locator('a.trace-link').getAttribute('href'))!;
    } finally {
      s.destroy();
    }
    await page.locator(`#conntrack tr[data-sport="${sport}"]`).waitFor({ state: 'detached', timeout: 5000 });
    expect(await page.textContent('td[data-count="default/web:http"]')).toBe('0');
    expect(await page.textContent('#closing')).toMatch(/closed entr(y|ies) ageing out/);
    const updates = Number(await page.getAttribute('#main', 'data-updates'));
    expect(updates).toBeGreaterThan(1);
    // The same connection's first packet, traced from the live row's link.
    await page.goto(`${base}${traceHref}`);
    await page.waitForSelector('#trace-result');
    expect(
      await page.locator(`[data-chain="${kubeSvcChain('default/web:http', 'tcp')}"]`).count(),
    ).toBeGreaterThan(0);
    expect(await page.textContent('#decisions')).toMatch(
      new RegExp(`DNAT to 10\\.${200 + SLOT}\\.[12]\\.\\d+:8080`),
    );
  });

  it('shows a pod turning not ready and ready again as its readiness probe fails and passes', async () => {
    await page.goto(`${base}/ui/`);
    await page.waitForSelector('body[data-ready=cluster]');
    const client = page.locator('[data-pod="default/client"]');
    expect(await client.getAttribute('class')).toBe('pod ready');
    writeFileSync(join(PROBE_DIR, 'client.down'), '');
    await page.waitForSelector('[data-pod="default/client"]:not(.ready)', { timeout: 5000 });
    expect(await client.locator('.state').textContent()).toBe('not ready');
    rmSync(join(PROBE_DIR, 'client.down'));
    await page.waitForSelector('[data-pod="default/client"].ready', { timeout: 5000 });
    expect(await client.locator('.state').textContent()).toBe('ready');
  });

  it('traces a pod to the service: the KUBE-SVC chain, the DNAT target and the reply', async () => {
    const snap = rt.snapshot()!;
    const client = snap.pod('default', 'client')!;
    const clientIP = client.podIPs[0]!.text;
    await page.goto(`${base}/ui/trace?from=pod/default/${client.meta.name}&to=svc/default/web:80`);
    await page.waitForSelector('#trace-result');
    const chain = kubeSvcChain('default/web:http', 'tcp');
    expect(await page.locator(`[data-chain="${chain}"]`).count()).toBeGreaterThan(0);
    const rules = await page.locator('.hop[data-dir=forward] pre.rule').allTextContents();
    expect(rules).toContain(
      `-A KUBE-SERVICES -d ${A.svcIP(1)}/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j ${chain}`,
    );
    const dnatRule = rules.find((r) => r.includes('-j DNAT --to-destination'))!;
    const target = /--to-destination (\S+)/.exec(dnatRule)![1]!;
    expect(target).toMatch(new RegExp(`^10\\.${200 + SLOT}\\.[12]\\.\\d+:8080$`));
    expect(await page.textContent('#decisions')).toContain(`DNAT to ${target}`);
    const arrival = await page.textContent('.arrival');
    expect(arrival).toContain(`receives tcp from ${clientIP}:43210 to ${target}`);
    // The reply comes back un-DNATed: from the service address to the client pod.
    const back = await page.textContent('.reply-arrival');
    expect(back).toContain(`pod default/${client.meta.name}`);
    expect(back).toContain(`from ${A.svcIP(1)}:80 to ${clientIP}:43210`);
    // Every path: kube-proxy's statistic rules (1/3, then 1/2, then the last) give each pod 1/3.
    await page.goto(`${base}/ui/trace?from=pod/default/${client.meta.name}&to=svc/default/web:80&all=1`);
    await page.waitForSelector('#trace-result');
    const heads = await page.locator('section.outcome > h2').allTextContents();
    expect(heads).toHaveLength(3);
    for (const x of heads) expect(x).toContain('(probability 0.3333): ACCEPT');
    const targets = await page.locator('section.outcome > p.decision:not(.arrival)').allTextContents();
    const webIPs = snap.pods
      .filter((p) => p.meta.name.startsWith('web-'))
      .map((p) => `${p.podIPs[0]!.text}:8080`);
    expect(targets.map((t) => /DNAT to (\S+);/.exec(t)?.[1]).sort()).toEqual(webIPs.sort());
  });

  it('traces an outside address to a node port, and shows why a bad request cannot be traced', async () => {
    await page.goto(`${base}/ui/trace`);
    await page.waitForSelector('#trace-form');
    await page.fill('input[name=from]', '192.0.2.7');
    await page.fill('input[name=to]', `node/node-b:${A.nodePort(1)}`);
    await page.selectOption('select[name=node]', 'node-b');
    await page.click('button[type=submit]');
    await page.waitForSelector('#trace-result');
    expect(new URL(page.url()).searchParams.get('to')).toBe(`node/node-b:${A.nodePort(1)}`);
    expect(await page.textContent('#trace-result')).toContain('node-b');
    expect(await page.locator('[data-chain="KUBE-NODEPORTS"]').count()).toBeGreaterThan(0);
    // An outside client reaching a NodePort is masqueraded (externalTrafficPolicy Cluster).
    expect(await page.textContent('#decisions')).toContain('masqueraded (the destination sees');
    await page.goto(`${base}/ui/trace?from=pod/default/nope&to=svc/default/web:80`);
    await page.waitForSelector('#trace-out .error');
    expect(await page.textContent('#trace-out .error')).toBe(
      'pod default/nope does not exist (see: kpath get pods -A)',
    );
  });

  it('serves loopback clients only and answers bad trace queries with 400', async () => {
    const [host, port] = rt.addresses().metrics!.split(':');
    const r = await get(host!, Number(port), '/ui/api/trace?from=pod/default/x');
    expect(r.status).toBe(400);
    expect(r.json().code).toBe('KPATH_E_USAGE');
    // A name rebound to 127.0.0.1 (DNS rebinding) arrives with its own Host header.
    const rebound = await new Promise<number>((resolve, reject) => {
      request(
        { host, port: Number(port), path: '/ui/', headers: { host: `attacker.example:${port}` } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      )
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);
  });
});
