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
      '10.244.1.18',
      '--dst',
      '10.96.0.20:80',
      '-o',
      'json',
    ]);
    expect(code).toBe(0);
    const o = JSON.parse(out).outcomes[0];
    // kpath adds 10.244.1.18, 10.244.2.75, 10.244.2.243 in that order (as ipvsadm -Ln lists them);
    // ip_vs_add_dest links each at the list head, and ip_vs_rr_schedule starts after the head:
    // 10.244.2.243 first.
    expect(o.verdict).toBe('ACCEPT');
    expect(o.dnat).toBe('10.244.2.243:8080');
    expect(o.masquerade).toBe(false);
    expect(o.path.arrived.pod).toMatch(/^default\/web-/);
    expect(o.path.replyArrived.text).toContain('from 10.96.0.20:80');
  });

  it('the text names the virtual server, the scheduler and why it picked that real server', async () => {
    const { out } = await trace(['--node', 'worker-1', '--src', '10.244.1.18', '--dst', '10.96.0.20:80']);
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
    // worker-1's only web pod.
    expect(o.dnat).toBe('10.244.1.18:8080');
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
    expect(o.dnat).toMatch(/^10\.244\.\d\.\d+:8080$/);
    expect(o.masquerade).toBe(true);
    expect(o.snat).toMatch(/^10\.0\.0\.12:\d+$/);
  });
});

/** examples/ipvs with another scheduler, in a temporary folder. */
async function withScheduler(sched: string): Promise<string> {
  const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'kpath-ipvs-all-'));
  const text = readFileSync(`${FILE}/cluster.yaml`, 'utf8').replace('scheduler: rr', `scheduler: ${sched}`);
  writeFileSync(join(dir, 'cluster.yaml'), text);
  return dir;
}

interface AllOutcome {
  probability: number;
  dnat: string;
  hops: {
    kind: string;
    choice?: { decidedBy: string; index: number; of: number; probability: number; rule: string };
  }[];
  path: { arrived: { pod?: string } };
}

async function traceAll(file: string): Promise<AllOutcome[]> {
  const io = bufferIO();
  const code = await main(
    [
      'trace',
      '-f',
      file,
      '--node',
      'worker-1',
      '--src',
      '10.244.1.18',
      '--dst',
      '10.96.0.20:80',
      '--all',
      '-o',
      'json',
    ],
    io,
  );
  expect(code).toBe(0);
  return JSON.parse(io.stdout()).outcomes;
}

describe('kpath trace --all, ipvs mode', () => {
  it('rr: every usable real server, 1/3 each, with the cursor position that picks it', async () => {
    const all = await traceAll(FILE);
    // The kernel list is 10.244.2.243, 10.244.2.75, 10.244.1.18 (each added at the head); rr's pick
    // depends on where earlier connections left its cursor, so each is one path of three.
    expect(all.map((o) => o.dnat)).toEqual(['10.244.2.243:8080', '10.244.2.75:8080', '10.244.1.18:8080']);
    expect(all.map((o) => o.probability)).toEqual([1 / 3, 1 / 3, 1 / 3]);
    const choices = all.map((o) => o.hops.find((h) => h.kind === 'ipvs')!.choice!);
    expect(choices.map((c) => [c.decidedBy, c.index, c.of])).toEqual([
      ['cycle', 1, 3],
      ['cycle', 2, 3],
      ['cycle', 3, 3],
    ]);
    expect(choices[1]!.rule).toContain('position 2 of 3 in kernel list order');
    // Each path is followed to the pod it picked (the third is the client itself, through its service).
    expect(all.map((o) => o.path.arrived.pod)).toEqual([
      expect.stringMatching(/^default\/web-/),
      expect.stringMatching(/^default\/web-/),
      expect.stringMatching(/^default\/web-/),
    ]);
    expect(new Set(all.map((o) => o.path.arrived.pod)).size).toBe(3);

    const io = bufferIO();
    await main(
      ['trace', '-f', FILE, '--node', 'worker-1', '--src', '10.244.1.18', '--dst', '10.96.0.20:80', '--all'],
      io,
    );
    const text = io.stdout();
    expect(text).toContain('Outcome 2 of 3 (probability 0.3333)');
    expect(text).toContain('10.244.2.75:8080: choice 2 of 3 real servers rr could pick');
  });

  it("the single trace says the pick is the scheduler's on a fresh node and --all shows the others", async () => {
    const { out } = await trace(['--node', 'worker-1', '--src', '10.244.1.18', '--dst', '10.96.0.20:80']);
    expect(out).toContain("one of 3 possible paths: the IPVS scheduler's pick on a freshly programmed node");
  });

  it('lc: every real server, chosen when its overhead is the lowest', async () => {
    const all = await traceAll(await withScheduler('lc'));
    expect(all).toHaveLength(3);
    const c = all.map((o) => o.hops.find((h) => h.kind === 'ipvs')!.choice!);
    expect(c.every((x) => x.decidedBy === 'counts' && x.of === 3)).toBe(true);
    expect(c[0]!.rule).toContain('overhead (activeconns*256 + inactconns) is the lowest');
  });

  it('sh: the packet alone decides, so one path with probability 1 that says so', async () => {
    const dir = await withScheduler('sh');
    const all = await traceAll(dir);
    expect(all).toHaveLength(1);
    expect(all[0]!.probability).toBe(1);
    const c = all[0]!.hops.find((h) => h.kind === 'ipvs')!.choice!;
    expect([c.decidedBy, c.index, c.of]).toEqual(['packet', 1, 1]);
    expect(c.rule).toContain('the packet alone decides');
    // The same real server the single trace (the scheduler's own pick) gives.
    const io = bufferIO();
    await main(
      [
        'trace',
        '-f',
        dir,
        '--node',
        'worker-1',
        '--src',
        '10.244.1.18',
        '--dst',
        '10.96.0.20:80',
        '-o',
        'json',
      ],
      io,
    );
    expect(JSON.parse(io.stdout()).outcomes[0].dnat).toBe(all[0]!.dnat);
  });
});

describe('the ipvs-mode datapath across syncs', () => {
  it('keeps the node IPVS, its connections and the down kube-ipvs0 with the service addresses through a resync', async () => {
    const { loadCluster } = await import('../../proxy/manifest-files.js');
    const { ClusterDatapath } = await import('../../proxy/datapath.js');
    const { programIpvs } = await import('../../proxy/ipvs/index.js');
    const { packet, SYN } = await import('../../netmodel/packet.js');
    const { parseIP } = await import('../../netmodel/addr.js');
    const { SeededRng } = await import('../../netmodel/rng.js');
    const { receive } = await import('../../netmodel/kernel/index.js');
    const r = loadCluster([FILE]);
    if (!r.ok) throw new Error('examples/ipvs does not build');
    const dp = ClusterDatapath.build(r.snapshot, { ipvs: programIpvs });
    const node = dp.node('worker-1');
    const table = node.ipvs!;
    const syn = packet({
      proto: 'tcp',
      src: parseIP('10.244.1.18'),
      dst: parseIP('10.96.0.20'),
      sport: 40000,
      dport: 80,
      tcp: SYN,
    });
    const w = receive(node, syn, 'cni0', { now: 0, rng: new SeededRng(1) });
    expect(w.dnat?.ip.text).toBe('10.244.2.243');
    // The same cluster again (a resync): the table, its connection and the dummy's addresses stay.
    dp.update(r.snapshot, undefined, 1000);
    const after = dp.node('worker-1');
    expect(after.ipvs).toBe(table);
    expect(
      table.conns.list().some((c) => !c.template && c.dport === 8080 && c.daddr.text === '10.244.2.243'),
    ).toBe(true);
    const dummy = after.routing.interface('kube-ipvs0');
    expect(dummy?.up).toBe(false);
    expect(dummy?.addresses.map((a) => a.ip.text)).toContain('10.96.0.20');
    expect(after.isLocal(parseIP('10.96.0.20'))).toBe(true);
  });
});
