/**
 * proxy/isolated, the way `kpath lab check` runs a cluster: the manifests moved onto loopback
 * addresses of their own (model addresses unchanged), privileged ports shifted on both sides when
 * this process may not bind them, and parallel runs each on their own slot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { labSlot, loadLab, runChecks } from '../../lab/index.js';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { relocateManifests, withDnsAddon } from '../../proxy/isolated/index.js';
import { startRuntime } from '../../proxy/runtime/index.js';
import { lab } from './helpers.js';

const text = `apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec:
  containers:
    - name: web
      image: kpath/echo
      ports: [{containerPort: 80}, {containerPort: 8080}]
      readinessProbe: {httpGet: {port: 80, path: /healthz}}
      livenessProbe: {tcpSocket: {port: http}}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: dns, port: 53, targetPort: 80, nodePort: 30053}, {name: alt, port: 8000, targetPort: http}]
`;

describe('relocateManifests', () => {
  it('adds a Cluster with the slot loopbackMap and shifts ports below 1024 on both sides', () => {
    const slot = labSlot(2);
    const out = relocateManifests([{ file: 'c.yaml', text }], {
      loopbackMap: slot.loopbackMap,
      shiftPorts: true,
    });
    expect(out[0]!.file).toBe('<isolated>/cluster.yaml');
    expect(parse(out[0]!.text)).toMatchObject({ kind: 'Cluster', spec: { loopbackMap: slot.loopbackMap } });
    const [pod, svc] = parseAllDocuments(out[1]!.text).map((d) => d.toJS());
    const c = pod.spec.containers[0];
    expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([10080, 8080]);
    expect(c.readinessProbe.httpGet.port).toBe(10080);
    expect(c.livenessProbe.tcpSocket.port).toBe('http');
    expect(svc.spec.ports).toEqual([
      { name: 'dns', port: 10053, targetPort: 10080, nodePort: 30053 },
      { name: 'alt', port: 8000, targetPort: 'http' },
    ]);
    // The model is the same cluster: same addresses, same endpoints.
    const before = buildCluster([{ file: 'c.yaml', text }]);
    const after = buildCluster(out);
    expect(after.ok && before.ok).toBe(true);
    if (after.ok && before.ok) {
      expect(after.snapshot.pods.map((p) => p.podIPs[0]?.text)).toEqual(
        before.snapshot.pods.map((p) => p.podIPs[0]?.text),
      );
      expect(after.snapshot.services.map((s) => s.clusterIPs[0]?.text)).toEqual(
        before.snapshot.services.map((s) => s.clusterIPs[0]?.text),
      );
    }
  });

  it('writes the DNS addon out so its ports move too (kube-dns 53 -> 10053)', () => {
    const full = withDnsAddon([{ file: 'c.yaml', text }]);
    expect(full.map((s) => s.file)).toEqual(['c.yaml', '<builtin:dns-addon>']);
    const out = relocateManifests(full, { loopbackMap: [], shiftPorts: true });
    const r = buildCluster(out);
    expect(r.ok).toBe(true);
    if (r.ok)
      expect(r.snapshot.service('kube-system', 'kube-dns')?.ports.map((p) => p.port)).toEqual([
        10053, 10053, 9153,
      ]);
  });
});

describe('kpath lab check runs', () => {
  const root = mkdtempSync(join(tmpdir(), 'kpath-lab-iso-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('with ports shifted as for a user who may not bind below 1024: same verdicts', async () => {
    const dir = join(root, 'shift');
    await lab('start', 'wrong-targetport', '--dir', dir);
    const l = loadLab('wrong-targetport');
    const broken = await runChecks(l, dir, { shiftPorts: true });
    expect('checks' in broken && broken.passed).toBe(false);
    await lab('solve', '--dir', dir);
    const fixed = await runChecks(l, dir, { shiftPorts: true });
    expect('checks' in fixed && fixed.checks.map((c) => [c.name, c.passed])).toEqual([
      ['the client pod reaches the catalog', true],
      ['the catalog port accepts connections', true],
    ]);
  });

  it('next to a running kpath up of the same lab (its default twins, 127.0.0.1 node ports), check still passes', async () => {
    const dir = join(root, 'beside-up');
    await lab('start', 'no-endpoints', '--dir', dir);
    await lab('solve', '--dir', dir);
    const up = startRuntime({ files: [dir], health: null, metrics: null, watch: false });
    try {
      await up.ready;
      // kpath up holds the service's default twin 127.96.0.50:80 ...
      expect(up.listeners().some((l) => l.address === '127.96.0.50:80')).toBe(true);
      // ... and the check runs the same cluster on its own slot at the same time.
      const r = await runChecks(loadLab('no-endpoints'), dir);
      expect('checks' in r && r.passed).toBe(true);
    } finally {
      await up.stop();
    }
  });

  it('two checks at once take two slots and both see their own cluster', async () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    await lab('start', 'no-endpoints', '--dir', a);
    await lab('start', 'no-endpoints', '--dir', b);
    await lab('solve', '--dir', b);
    const l = loadLab('no-endpoints');
    const [ra, rb] = await Promise.all([runChecks(l, a), runChecks(l, b)]);
    expect('checks' in ra && ra.passed).toBe(false);
    expect('checks' in rb && rb.passed).toBe(true);
  });
});
