/**
 * kpath trace in an ipvs-mode cluster (examples/ipvs): the IPVS stage on LOCAL_IN picks the real
 * server as the kernel's scheduler would on a freshly programmed node, then conntrack, kube-proxy's
 * ipvs-mode masquerade and the follow to the pod and back.
 */
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

const FILE = 'examples/ipvs';

async function trace(args: string[]): Promise<{ code: number; out: string }> {
  const io = bufferIO();
  const code = await main(['trace', '-f', FILE, ...args], io);
  return { code, out: io.stdout() };
}

describe('kpath trace, ipvs mode', () => {
  it('a pod to a ClusterIP: rr takes the head of the kernel list (the last real server added, the highest address)', async () => {
    const { code, out } = await trace([
      '--node',
      'worker-1',
      '--src',
      '10.244.1.3',
      '--dst',
      '10.96.0.20:80',
      '-o',
      'json',
    ]);
    expect(code).toBe(0);
    const o = JSON.parse(out).outcomes[0];
    // kube-proxy adds 10.244.1.3, 10.244.1.4, 10.244.2.3 in that order; ip_vs_add_dest links each at the
    // list head, and ip_vs_rr_schedule starts after the head: 10.244.2.3 first.
    expect(o.verdict).toBe('ACCEPT');
    expect(o.dnat).toBe('10.244.2.3:8080');
    expect(o.masquerade).toBe(false);
    expect(o.path.arrived.pod).toMatch(/^default\/web-/);
    expect(o.path.replyArrived.text).toContain('from 10.96.0.20:80');
  });

  it('the text names the virtual server, the scheduler and why it picked that real server', async () => {
    const { out } = await trace(['--node', 'worker-1', '--src', '10.244.1.3', '--dst', '10.96.0.20:80']);
    expect(out).toContain('ipvs      scheduled');
    expect(out).toContain('virtual service TCP 10.96.0.20:80 (rr)');
    expect(out).toMatch(/-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT/);
  });

  it('an outside client to an externalTrafficPolicy: Local NodePort: a local endpoint, source kept', async () => {
    const { out } = await trace([
      '--node',
      'worker-1',
      '--src',
      '192.0.2.7',
      '--dst',
      '10.0.0.12:30080',
      '-o',
      'json',
    ]);
    const o = JSON.parse(out).outcomes[0];
    expect(['10.244.1.3:8080', '10.244.1.4:8080']).toContain(o.dnat);
    expect(o.masquerade).toBe(false);
  });

  it('a node process to a ClusterIP is masqueraded (not from the clusterCIDR: KUBE-MARK-MASQ)', async () => {
    const { out } = await trace([
      '--node',
      'worker-1',
      '--src',
      '10.0.0.12',
      '--dst',
      '10.96.0.20:80',
      '-o',
      'json',
    ]);
    const o = JSON.parse(out).outcomes[0];
    expect(o.verdict).toBe('ACCEPT');
    expect(o.dnat).toMatch(/^10\.244\.\d\.\d:8080$/);
    expect(o.masquerade).toBe(true);
    expect(o.snat).toMatch(/^10\.0\.0\.12:\d+$/);
  });
});

describe('the ipvs-mode datapath across syncs', () => {
  it('keeps the node IPVS, its connections and the down kube-ipvs0 with the service addresses through a resync', async () => {
    const { loadCluster } = await import('../../proxy/manifest-files.js');
    const { ClusterDatapath } = await import('../../proxy/datapath.js');
    const { packet, SYN } = await import('../../netmodel/packet.js');
    const { parseIP } = await import('../../netmodel/addr.js');
    const { SeededRng } = await import('../../netmodel/rng.js');
    const { receive } = await import('../../netmodel/kernel/index.js');
    const r = loadCluster([FILE]);
    if (!r.ok) throw new Error('examples/ipvs does not build');
    const dp = ClusterDatapath.build(r.snapshot);
    const node = dp.node('worker-1');
    const table = node.ipvs!;
    const syn = packet({
      proto: 'tcp',
      src: parseIP('10.244.1.3'),
      dst: parseIP('10.96.0.20'),
      sport: 40000,
      dport: 80,
      tcp: SYN,
    });
    const w = receive(node, syn, 'cni0', { now: 0, rng: new SeededRng(1) });
    expect(w.dnat?.ip.text).toBe('10.244.2.3');
    // The same cluster again (a resync): the table, its connection and the dummy's addresses stay.
    dp.update(r.snapshot, undefined, 1000);
    const after = dp.node('worker-1');
    expect(after.ipvs).toBe(table);
    expect(
      table.conns.list().some((c) => !c.template && c.dport === 8080 && c.daddr.text === '10.244.2.3'),
    ).toBe(true);
    const dummy = after.routing.interface('kube-ipvs0');
    expect(dummy?.up).toBe(false);
    expect(dummy?.addresses.map((a) => a.ip.text)).toContain('10.96.0.20');
    expect(after.isLocal(parseIP('10.96.0.20'))).toBe(true);
  });
});
