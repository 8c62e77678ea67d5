/**
 * The DNS addon: a cluster whose manifests have no kube-system/kube-dns Service gets one at the tenth
 * address of the service CIDR (kubeadm's GetDNSIP: 10.96.0.10 for 10.96.0.0/12) with a coredns
 * Deployment, as kubeadm installs them; Cluster spec.dns.addon: false turns it off.
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { ADDED_ANNOTATION, buildCluster, type ClusterSnapshot } from '../../netmodel/cluster/index.js';
import { kubeDnsAddresses, podResolvConf } from '../../netmodel/dns/index.js';
import { clusterCfg, deployment, svc, yamlOf } from '../helpers/cluster.js';

function snap(...docs: Record<string, unknown>[]): ClusterSnapshot {
  const r = buildCluster([{ file: 'c.yaml', text: yamlOf(...docs) }]);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.snapshot;
}

describe('the DNS addon', () => {
  it('adds kube-dns at the tenth service address and two coredns pods when there is none', () => {
    const s = snap(deployment('web', 1));
    const dns = s.service('kube-system', 'kube-dns')!;
    expect(dns.clusterIPs.map((ip) => ip.text)).toEqual(['10.96.0.10']);
    expect(dns.ports.map((p) => `${p.name} ${p.port}/${p.protocol}`)).toEqual([
      'dns 53/UDP',
      'dns-tcp 53/TCP',
      'metrics 9153/TCP',
    ]);
    expect(dns.meta.annotations[ADDED_ANNOTATION]).toMatch(/spec\.dns\.addon: false/);
    const coredns = s.pods.filter(
      (p) => p.meta.namespace === 'kube-system' && p.meta.name.startsWith('coredns-'),
    );
    expect(coredns).toHaveLength(2);
    // Its endpoints are the coredns pods, and pods' resolv.conf points at it.
    const eps = s.slicesFor(dns).flatMap((sl) => sl.endpoints.flatMap((e) => e.addresses.map((a) => a.text)));
    expect(new Set(eps)).toEqual(new Set(coredns.map((p) => p.podIPs[0]!.text)));
    expect(kubeDnsAddresses(s)).toEqual(['10.96.0.10']);
    expect(
      podResolvConf({ namespace: 'default', domain: 'cluster.local', nameservers: kubeDnsAddresses(s) }).text,
    ).toContain('nameserver 10.96.0.10');
  });

  it('follows the service CIDR (tenth address of the first one)', () => {
    const s = snap(clusterCfg({ serviceCIDR: '10.100.0.0/16' }));
    expect(s.service('kube-system', 'kube-dns')!.clusterIPs[0]!.text).toBe('10.100.0.10');
  });

  it('is not added when the manifests have a kube-dns Service, or when spec.dns.addon is false', () => {
    const own = snap(
      svc(
        'kube-dns',
        { clusterIP: '10.96.0.10', ports: [{ port: 53, protocol: 'UDP' }] },
        { namespace: 'kube-system' },
      ),
    );
    expect(own.service('kube-system', 'kube-dns')!.meta.annotations[ADDED_ANNOTATION]).toBeUndefined();
    expect(own.pods.some((p) => p.meta.name.startsWith('coredns-'))).toBe(false);
    const off = snap(clusterCfg({ dns: { addon: false } }));
    expect(off.service('kube-system', 'kube-dns')).toBeUndefined();
    expect(off.pods).toEqual([]);
  });

  it('kpath get shows it like any other service and says it was added', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kpath-addon-'));
    writeFileSync(join(dir, 'c.yaml'), yamlOf(deployment('web', 1)));
    const io = bufferIO(dir);
    expect(await main(['get', 'svc', '-n', 'kube-system', '-f', 'c.yaml'], io)).toBe(0);
    expect(io.stdout()).toMatch(
      /^kube-dns\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+53\/UDP,53\/TCP,9153\/TCP/m,
    );
    expect(io.stderr()).toMatch(
      /^note: added by kpath: service\/kube-system\/kube-dns: the manifests have no kube-system\/kube-dns Service/m,
    );
  });
});
