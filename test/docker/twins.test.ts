/** Default loopback twins for Docker subnets (proxy/runtime/docker/twins.ts), and the cluster's own loopbackMap first. */
import { describe, expect, it } from 'vitest';
import { parseIP } from '../../netmodel/addr.js';
import { buildCluster, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { TwinMap } from '../../netmodel/twins.js';
import { dockerLoopbackMap } from '../../proxy/runtime/docker/index.js';

function snap(extra = '') {
  const text = `${extra}apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 192.0.2.10/24
  networks: [{name: a}, {name: b, subnet: 192.168.16.0/20}, {name: c, subnet: 10.5.0.0/16}]
`;
  const r = buildCluster([{ file: 'h.yaml', text }]);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.snapshot;
}

describe('Docker subnets on loopback', () => {
  it('keep their last three bytes in 127/8; 10/8 already has the built-in twin', () => {
    const m = dockerLoopbackMap(snap());
    expect(m.map((x) => `${x.model.text} ${x.loopback.text}`)).toEqual([
      '172.17.0.0/16 127.17.0.0/16',
      '172.18.0.0/16 127.18.0.0/16',
      '192.168.16.0/20 127.168.16.0/20',
    ]);
    const t = new TwinMap(m);
    expect(t.toLoopback(parseIP('192.168.17.9'))?.text).toBe('127.168.17.9');
    expect(t.toModel(parseIP('127.17.0.2'))?.text).toBe('172.17.0.2');
    expect(t.toLoopback(parseIP('10.5.0.2'))?.text).toBe('127.5.0.2');
  });

  it("a subnet the Cluster's loopbackMap covers keeps that twin; a twin already taken is not given twice", () => {
    const cluster = `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata: {name: c}
spec:
  loopbackMap:
    - {model: 172.17.0.0/16, loopback: 127.201.0.0/16}
    - {model: 172.31.0.0/16, loopback: 127.18.0.0/16}
---
`;
    expect(dockerLoopbackMap(snap(cluster)).map((x) => `${x.model.text} ${x.loopback.text}`)).toEqual([
      '192.168.16.0/20 127.168.16.0/20',
    ]);
  });
});
