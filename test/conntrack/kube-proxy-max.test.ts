// kube-proxy's conntrack sizing (kubernetes cmd/kube-proxy/app/server_linux.go getConntrackMax:
// maxPerCore x NumCPU unless conntrack.min is larger; maxPerCore 0 leaves the kernel's value) applied
// to the emulated nodes, and what a full table does to a new connection.
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { TABLE_FULL_MESSAGE } from '../../netmodel/conntrack/index.js';
import { SeededRng } from '../../netmodel/rng.js';
import { kubeProxyConntrackMax, nodeCpus } from '../../proxy/conntrack-max.js';
import { ClusterDatapath } from '../../proxy/datapath.js';
import { IptablesMode } from '../../proxy/runtime/modes/iptables.js';

function cluster(conntrack: string, cpu?: string) {
  const r = buildCluster([
    {
      file: 'c.yaml',
      text: `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
${conntrack}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
${cpu ? `status: {capacity: {cpu: "${cpu}"}}` : ''}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: 10.96.0.80
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: default}
subsets: [{addresses: [{ip: 10.244.0.9}], ports: [{port: 8080}]}]
`,
    },
  ]);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.snapshot;
}

describe("kube-proxy's nf_conntrack_max", () => {
  it('maxPerCore x CPUs when above min, else min; unset or 0 leaves the node alone', () => {
    const at = (ct: string, cpu?: string) => {
      const s = cluster(ct, cpu);
      return kubeProxyConntrackMax(s, s.node('n1')!);
    };
    expect(at('conntrack: {maxPerCore: 32768, min: 131072}', '8')).toBe(262144);
    expect(at('conntrack: {maxPerCore: 32768, min: 131072}', '4')).toBe(131072);
    // min defaults to 131072 (v1alpha1 defaults)
    expect(at('conntrack: {maxPerCore: 32768}', '2')).toBe(131072);
    expect(at('conntrack: {maxPerCore: 8, min: 0}', '2')).toBe(16);
    expect(at('conntrack: {maxPerCore: 0, min: 0}', '2')).toBeUndefined();
    expect(at('', '2')).toBeUndefined();
    const s = cluster('', '3500m');
    expect(nodeCpus(s.node('n1')!)).toBe(4);
    expect(nodeCpus(cluster('').node('n1')!)).toBe(1);
  });

  it('the node kernel gets it; a new connection beyond it is dropped with the kernel message', () => {
    const snap = cluster('conntrack: {maxPerCore: 2, min: 0}', '2');
    expect(ClusterDatapath.build(snap).node('n1').conntrack.sysctls.nf_conntrack_max).toBe(4);
    // The runtime's kernel-decided mode completes each handshake, so the entries are ESTABLISHED and
    // ASSURED: early_drop may not evict them, and the fifth SYN finds the table full.
    const mode = new IptablesMode({ clock: { now: () => 0 }, rng: new SeededRng(1) });
    mode.sync(snap);
    const decide = (sport: number) =>
      mode.decide(
        {
          protocol: 'TCP',
          client: { ip: parseIP('10.0.0.1'), port: sport },
          clientIsNodeProcess: false,
          destination: { ip: parseIP('10.96.0.80'), port: 80 },
          entryNode: 'n1',
          entry: 'ClusterIP',
          servicePort: 'default/web:',
        },
        0,
      );
    for (let i = 0; i < 4; i++) expect(decide(40000 + i)).toMatchObject({ kind: 'forward' });
    expect(decide(40010)).toEqual({ kind: 'drop', reason: TABLE_FULL_MESSAGE });
    // Without the setting the kernel default stays.
    expect(ClusterDatapath.build(cluster('')).node('n1').conntrack.sysctls.nf_conntrack_max).toBe(262144);
  });
});
