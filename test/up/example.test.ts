/**
 * The bundled example under kpath up (the README's promise): curl to the web service's twin spreads
 * across its pods, the NodePort answers on 127.0.0.1 and on node twins, and kube-dns answers through
 * its service. Needs root: the example's services listen on ports 80 and 53 of their twins.
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleClusterPath } from '../../proxy/manifest-files.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import { get, up } from './helpers.js';

const root = process.getuid?.() === 0;

function dig(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['+tries=1', '+time=2', ...args], { timeout: 10_000 }, (err, out) =>
      err ? reject(err) : resolve(out),
    );
  });
}

describe.skipIf(!root)('kpath up with the bundled example (root: ports 80 and 53)', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await up({ files: [exampleClusterPath()], watch: false });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('runs in the KubeProxyConfiguration mode (iptables) with every pod and listener', () => {
    expect(rt.mode?.name).toBe('iptables');
    expect(rt.pods().length).toBe(rt.snapshot()!.pods.length);
    expect(rt.listeners().length).toBeGreaterThanOrEqual(8);
  });

  it('curl to the web service twin spreads across the three web pods', async () => {
    const web = rt.snapshot()!.service('default', 'web')!;
    const twin = web.clusterIPs[0]!.text.replace(/^10\./, '127.');
    const pods = new Set<string>();
    for (let i = 0; i < 30; i++) pods.add(String((await get(twin, 80)).json().pod));
    expect(pods.size).toBe(3);
  });

  it('the NodePort answers on 127.0.0.1 and on a node twin', async () => {
    expect((await get('127.0.0.1', 30080)).json().pod).toMatch(/^web-/);
    // externalTrafficPolicy: Local: worker-2 has web pods, so its twin answers with one of its own.
    const r = (await get('127.0.0.13', 30080)).json();
    expect(r.node).toBe('worker-2');
  });

  it('kube-dns answers through its service listener', async () => {
    const web = rt.snapshot()!.service('default', 'web')!;
    expect((await dig('@127.96.0.10', '+short', 'web.default.svc.cluster.local')).trim()).toBe(
      web.clusterIPs[0]!.text,
    );
    expect(
      (await dig('@127.96.0.10', '+tcp', '+short', 'SRV', '_postgres._tcp.db.data.svc.cluster.local'))
        .trim()
        .split('\n'),
    ).toHaveLength(2);
  });
});
