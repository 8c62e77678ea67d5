/**
 * `kpath rules` and `kpath ipset` on an ipvs-mode cluster (examples/ipvs), `kpath rules --compare`,
 * and the bundled demo and every scenario rendered and loaded in ipvs mode without error.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { buildHostNetwork } from '../../cni/index.js';
import { KernelNode } from '../../netmodel/kernel/index.js';
import { applyIpvsNetfilter, localAddressesOf, renderIpvsNode } from '../../proxy/ipvs/index.js';
import { loadCluster } from '../../proxy/manifest-files.js';

async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('kpath rules / ipset in ipvs mode', () => {
  it('rules: iptables-save of the ipvs-mode rules, no per-service chains', async () => {
    const r = await kpath('rules', '-f', 'examples/ipvs', '--node', 'worker-1');
    expect(r.code).toBe(0);
    expect(r.out).toContain('-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\n');
    expect(r.out).toContain(
      '-A KUBE-NODE-PORT -p tcp -m comment --comment "Kubernetes nodeport TCP port with externalTrafficPolicy=local" -m set --match-set KUBE-NODE-PORT-LOCAL-TCP dst -j RETURN\n',
    );
    expect(r.out).toContain(
      '-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER\n',
    );
    expect(r.out).not.toMatch(/KUBE-SVC-|KUBE-SEP-/);
  });

  it('rules --format restore: kube-proxy payload, nat then filter', async () => {
    const r = await kpath('rules', '-f', 'examples/ipvs', '--format', 'restore', '--table', 'nat');
    expect(r.code).toBe(0);
    expect(r.out.startsWith('*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n')).toBe(true);
    expect(r.out).toContain('-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000\n');
  });

  it('ipset: save by default, list with -o list (references counted from the rules)', async () => {
    const save = await kpath('ipset', '-f', 'examples/ipvs', '--node', 'worker-1');
    expect(save.code).toBe(0);
    expect(save.out).toContain('add KUBE-CLUSTER-IP 10.96.0.20,tcp:80\n');
    expect(save.out).toContain('add KUBE-CLUSTER-IP 10.96.0.30,tcp:9000\n');
    expect(save.out).toContain('add KUBE-NODE-PORT-LOCAL-TCP 30080\n');
    expect(save.out).toMatch(/add KUBE-LOAD-BALANCER-SOURCE-CIDR 10\.250\.0\.\d+,tcp:80,192\.0\.2\.0\/24\n/);
    expect(save.out).toMatch(/add KUBE-LOAD-BALANCER-SOURCE-IP (10\.250\.0\.\d+),tcp:80,\1\n/);
    expect(save.out).toContain('add KUBE-IPVS-IPS 10.96.0.20\n');
    const list = await kpath('ipset', '-f', 'examples/ipvs', '-o', 'list');
    expect(list.out).toMatch(
      /Name: KUBE-CLUSTER-IP\nType: hash:ip,port\nRevision: 7\n.*\nSize in memory: \d+\nReferences: 3\n/,
    );
    const restore = await kpath('ipset', '-f', 'examples/ipvs', '-o', 'restore');
    expect(restore.out).toContain('create KUBE-NODE-PORT-TCP bitmap:port range 0-65535 -exist\n');
  });

  it('rules --compare iptables,ipvs: both blocks for one service', async () => {
    const r = await kpath(
      'rules',
      '-f',
      'examples/ipvs',
      '--compare',
      'iptables,ipvs',
      '--service',
      'default/cart',
    );
    expect(r.code).toBe(0);
    const [ipt, ipvs] = r.out.split('===== ipvs =====');
    expect(ipt).toContain('===== iptables =====');
    expect(ipt).toMatch(/-m recent --name KUBE-SEP-\S+ --set/);
    expect(ipvs).toContain('TCP  10.96.0.30:9000 rr persistent 600\n');
    expect(ipvs).toContain('add KUBE-CLUSTER-IP 10.96.0.30,tcp:9000\n');
    expect(ipvs).not.toContain('10.96.0.20');
  });

  it('bad --compare or --service: exit 2 with the reason', async () => {
    const a = await kpath('rules', '-f', 'examples/ipvs', '--compare', 'iptables,nftables');
    expect(a.code).toBe(2);
    expect(a.err).toMatch(/--compare takes "iptables,ipvs"/);
    const b = await kpath(
      'rules',
      '-f',
      'examples/ipvs',
      '--compare',
      'iptables,ipvs',
      '--service',
      'default/nope',
    );
    expect(b.code).toBe(2);
    expect(b.err).toMatch(/default\/web/);
  });
});

describe('the bundled demo and the scenarios in ipvs mode', () => {
  const dirs = ['examples/demo', ...readdirSync('examples/scenarios').map((d) => `examples/scenarios/${d}`)];
  it.each(dirs)('%s: every node renders and loads (ipsets, then iptables-restore)', (dir) => {
    const r = loadCluster([dir]);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const host = buildHostNetwork(r.snapshot);
    for (const n of r.snapshot.nodes) {
      const render = renderIpvsNode(r.snapshot, n.meta.name, {
        localAddresses: localAddressesOf(host.nodes.get(n.meta.name)!),
      });
      const k = new KernelNode({ name: n.meta.name });
      applyIpvsNetfilter(k, render);
      expect(render.services.length).toBeGreaterThan(0);
      expect(k.save()).toContain(':KUBE-IPVS-FILTER - [0:0]');
    }
  });
});
