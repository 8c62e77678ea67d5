/**
 * `kpath demo` runs the bundled cluster for real and reports where requests went. The assertions
 * check the reports against the cluster model: the DNS answer is web's cluster IP, ClusterIP hits
 * are web pods seen from the client pod's own address, NodePort hits with externalTrafficPolicy:
 * Local stay on the dialled node and keep the outside client's address, affinity hits one pod, and
 * the trace shows the DNAT the first request really got.
 */
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { loadCluster } from '../../proxy/manifest-files.js';

async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const r = loadCluster([]);
if (!r.ok) throw new Error('bundled cluster');
const snap = r.snapshot;
const podsOf = (ns: string, app: string) =>
  snap.pods.filter((p) => p.meta.namespace === ns && p.meta.labels.app === app);

function hits(out: string, section: string): { pod: string; ip: string; node: string; seen: string }[] {
  const block = out.split('\n\n').find((b) => b.startsWith(section))!;
  return [...block.matchAll(/-> pod (\S+) \((\S+)\) on (\S+), saw the client as (\S+)/g)].map((m) => ({
    pod: m[1]!,
    ip: m[2]!,
    node: m[3]!,
    seen: m[4]!,
  }));
}

describe('kpath demo', () => {
  it('sends real requests through ClusterIP, NodePort, affinity and DNS and says where each went', async () => {
    const t0 = Date.now();
    const d = await kpath('demo');
    expect(d.code, d.err).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const web = snap.service('default', 'web')!.clusterIPs[0]!.text;
    const client = snap.pod('default', 'client')!.podIPs[0]!.text;
    expect(d.out).toContain(`web.default.svc.cluster.local. A ${web}`);

    const webPods = new Map(podsOf('default', 'web').map((p) => [`default/${p.meta.name}`, p]));
    const cluster = hits(d.out, 'ClusterIP');
    expect(cluster).toHaveLength(3);
    for (const h of cluster) {
      const p = webPods.get(h.pod)!;
      expect(p, h.pod).toBeDefined();
      expect(h.ip).toBe(p.podIPs[0]!.text);
      expect(h.node).toBe(p.nodeName);
      expect(h.seen).toMatch(new RegExp(`^${client.replaceAll('.', '\\.')}:\\d+$`));
    }

    // externalTrafficPolicy: Local on worker-1's node port: only worker-1's web pods, client address kept.
    const np = hits(d.out, 'NodePort');
    expect(np).toHaveLength(3);
    for (const h of np) {
      expect(h.node).toBe('worker-1');
      expect(webPods.has(h.pod)).toBe(true);
      expect(h.seen).toMatch(/^192\.0\.2\.10:\d+$/);
    }

    const aff = hits(d.out, 'Affinity');
    expect(aff).toHaveLength(3);
    expect(new Set(aff.map((h) => h.pod)).size).toBe(1);
    expect(podsOf('shop', 'cart').map((p) => `shop/${p.meta.name}`)).toContain(aff[0]!.pod);

    // The trace explains request #1: the DNAT it shows is the endpoint that answered.
    const first = cluster[0]!;
    expect(d.out).toContain(`Why ClusterIP request #1 reached ${first.pod.split('/')[1]}`);
    expect(d.out).toContain(`DNAT to ${first.ip}:8080`);
  }, 30_000);

  it('without root it moves ports below 1024 up by 10000 and still works', async () => {
    const d = await kpath('demo', '--shift-ports', '--no-trace', '--requests', '1');
    expect(d.code, d.err).toBe(0);
    expect(d.out).toMatch(/real UDP to 127\.\d+\.0\.10:10053\)/);
    expect(d.out).toContain('GET http://web:10080/');
    expect(hits(d.out, 'ClusterIP')).toHaveLength(1);
  }, 30_000);
});
