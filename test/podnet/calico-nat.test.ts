/**
 * Calico's natOutgoing (felix's cali-nat-outgoing, cni/calico/felix.ts): pod traffic leaving the IP
 * pool is masqueraded to the node's address, traffic to another pod is not; the chains and ipsets as
 * felix names them.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { buildHostNetwork } from '../../cni/index.js';
import { buildCluster } from '../../netmodel/cluster/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kpath-calico-nat-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
cpSync(join(import.meta.dirname, '../../examples/demo'), dir, { recursive: true });
const f = join(dir, '00-cluster.yaml');
writeFileSync(
  f,
  readFileSync(f, 'utf8').replace(
    / {2}network:\n {4}plugin: flannel\n {4}backend: vxlan\n/,
    '  network:\n    plugin: calico\n',
  ),
);

async function trace(...argv: string[]) {
  const io = bufferIO(dir);
  const code = await main(['trace', '-f', dir, ...argv, '-o', 'json'], io);
  expect(code, io.stderr()).toBe(0);
  return (
    JSON.parse(io.stdout()) as {
      outcomes: { snat?: string | null; masquerade: boolean; path: { arrived: { kind: string } } }[];
    }
  ).outcomes[0]!;
}

describe('calico natOutgoing', () => {
  it('a pod reaching an address outside the pool leaves masqueraded to its node`s address', async () => {
    const o = await trace('--from', 'pod/default/client', '--dst', '192.168.1.50:53', '--proto', 'udp');
    expect(o.masquerade).toBe(true);
    expect(o.snat).toMatch(/^10\.0\.0\.12:\d+$/);
    expect(o.path.arrived.kind).toBe('outside');
  });

  it('pod to pod keeps the pod address (both ends in cali40all-ipam-pools)', async () => {
    const pods = bufferIO(dir);
    await main(['get', 'pods', '-f', dir, '-o', 'json'], pods);
    const web = (
      JSON.parse(pods.stdout()) as { items: { metadata: { name: string }; spec: { nodeName: string } }[] }
    ).items.find((p) => p.metadata.name.startsWith('web-') && p.spec.nodeName !== 'worker-1')!.metadata.name;
    const o = await trace('--from', 'pod/default/client', '--to', `pod/default/${web}:8080`);
    expect(o.masquerade).toBe(false);
    expect(o.path.arrived.kind).toBe('pod');
  });

  it('the chains and sets felix writes', () => {
    const r = buildCluster(
      ['00-cluster.yaml', '10-web.yaml', '50-client.yaml'].map((n) => ({
        file: n,
        text: readFileSync(join(dir, n), 'utf8'),
      })),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const k = buildHostNetwork(r.snapshot).nodes.get('worker-1')!;
    const save = k.save({ tables: ['nat'] });
    expect(save).toContain('-A POSTROUTING -m comment --comment "cali:O3lYWMrLQYEMJtB5" -j cali-POSTROUTING');
    expect(save).toContain(
      '-A cali-nat-outgoing -m comment --comment "cali:flqWnvo8yq4ULQLa" -m set --match-set cali40masq-ipam-pools src -m set ! --match-set cali40all-ipam-pools dst -j MASQUERADE --random-fully',
    );
    expect(k.nf.sets.get('cali40all-ipam-pools')).toBeDefined();
  });
});
