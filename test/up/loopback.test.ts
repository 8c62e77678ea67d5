/**
 * Addresses without a loopback twin (a 192.168.0.0/16 pod CIDR, an external IP 203.0.113.10): kpath
 * up names them in one warning with the Cluster spec.loopbackMap entries that make them real; with
 * those entries added they are served.
 */
import { describe, expect, it } from 'vitest';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { loopbackGaps } from '../../netmodel/loopback-gaps.js';
import { TwinMap } from '../../netmodel/twins.js';
import { echoDeployment, get, memoryLogger, up, waitFor, writeCluster } from './helpers.js';

const SLOT = 23;
const cluster = (loopbackMap = '') => `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata:
  name: t${SLOT}
spec:
  podCIDR: 192.168.0.0/16
  serviceCIDR: 10.${100 + SLOT}.0.0/16
  nodePortRange: 32300-32399
  dns:
    addon: false
${loopbackMap}---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: userspace
---
apiVersion: v1
kind: Node
metadata:
  name: node-a
status:
  addresses:
    - type: InternalIP
      address: 10.${150 + SLOT}.0.11
${echoDeployment('web', 1)}---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: default
spec:
  clusterIP: 10.${100 + SLOT}.0.20
  externalIPs: [203.0.113.10]
  selector:
    app: web
  ports:
    - name: http
      port: 8000
      targetPort: 8080
`;

describe('addresses without a loopback twin', () => {
  it('are named with the loopbackMap entries that would make them real', () => {
    const r = buildCluster([{ file: 'c.yaml', text: cluster() }]);
    if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
    const gaps = loopbackGaps(r.snapshot, new TwinMap(r.snapshot.config.loopbackMap));
    expect(gaps.map((g) => `${g.what} ${g.model}`)).toEqual([
      'pod CIDR 192.168.0.0/16',
      'externalIP of service default/web 203.0.113.10/32',
    ]);
    // Loopback prefixes of the same size, clear of the cluster's own 10.x twins and 127.0.0.0/16.
    expect(gaps.map((g) => g.suggestion)).toEqual([
      { model: '192.168.0.0/16', loopback: '127.255.0.0/16' },
      { model: '203.0.113.10/32', loopback: '127.254.255.255/32' },
    ]);
  });

  it('kpath up warns once, and serves them once the entries are added', async () => {
    const mem = memoryLogger('warn');
    const c = writeCluster(cluster());
    const rt = await up({ files: [c.file], logger: mem.logger, watch: false });
    try {
      const warns = mem.lines().filter((l) => Array.isArray(l.addresses));
      expect(warns).toHaveLength(1);
      expect(String(warns[0]!.msg)).toBe(
        'no loopback twin, so nothing listens for: pod CIDR 192.168.0.0/16, externalIP of service default/web ' +
          '203.0.113.10/32. Only 10.0.0.0/8 has built-in twins (127.0.0.0/8); add to the Cluster object: ' +
          'spec.loopbackMap: [{model: 192.168.0.0/16, loopback: 127.255.0.0/16}, {model: 203.0.113.10/32, loopback: 127.254.255.255/32}]',
      );
      // No pod runs (its address has no twin) and the external IP has no listener.
      expect(rt.pods()).toEqual([]);
      c.write(
        cluster(
          '  loopbackMap:\n    - {model: 192.168.0.0/16, loopback: 127.255.0.0/16}\n    - {model: 203.0.113.10/32, loopback: 127.254.255.255/32}\n',
        ),
      );
      expect(await rt.reload()).toBe(true);
      await waitFor(() => rt.pods().length === 1 && rt.pods()[0]!.ready, 'web pod');
      const r = await waitFor(async () => get('127.254.255.255', 8000).catch(() => undefined), 'external IP');
      expect(r.json()).toMatchObject({ namespace: 'default', podIP: expect.stringMatching(/^192\.168\./) });
      expect(mem.lines().filter((l) => Array.isArray(l.addresses))).toHaveLength(1);
    } finally {
      await rt.stop();
    }
  });
});
