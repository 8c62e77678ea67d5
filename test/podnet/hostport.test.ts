/**
 * hostPort reaching the emulated node: a pod with `hostPort: 8080` gets the portmap plugin's chains on
 * its node (cni/portmap), so a connection to the node's address on 8080 is DNATed to the pod, under
 * every pod network; from another node's pod it arrives masqueraded by that node (flanneld's
 * FLANNEL-POSTRTG for flannel) and the reply comes back through both nodes' conntrack.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { portmapChain, sandboxId } from '../../cni/portmap/index.js';
import { buildCluster } from '../../netmodel/cluster/index.js';

const DEMO = join(import.meta.dirname, '../../examples/demo');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const HP_POD = `---
apiVersion: v1
kind: Pod
metadata: {name: hp, namespace: default}
spec:
  nodeName: worker-2
  containers: [{name: web, image: nginx, ports: [{containerPort: 80, hostPort: 8080}]}]
status: {phase: Running, podIP: 10.244.2.50}
`;

function demoWith(network: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-hostport-'));
  dirs.push(dir);
  cpSync(DEMO, dir, { recursive: true });
  const f = join(dir, '00-cluster.yaml');
  writeFileSync(
    f,
    readFileSync(f, 'utf8').replace(/ {2}network:\n {4}plugin: flannel\n {4}backend: vxlan\n/, network ?? ''),
  );
  writeFileSync(join(dir, '60-hostport.yaml'), HP_POD);
  return dir;
}

async function trace(dir: string, ...argv: string[]) {
  const io = bufferIO(dir);
  const code = await main(['trace', '-f', dir, ...argv, '-o', 'json'], io);
  expect(code, io.stderr()).toBe(0);
  const j = JSON.parse(io.stdout()) as {
    outcomes: {
      dnat?: string;
      snat?: string;
      path: {
        arrived: { kind: string; pod?: string; from?: string; to?: string };
        replyArrived?: { kind: string; pod?: string; from?: string };
      };
    }[];
  };
  return j.outcomes[0]!;
}

const NETWORKS: [string, string | undefined][] = [
  ['bridge', undefined],
  ['flannel vxlan', '  network:\n    plugin: flannel\n    backend: vxlan\n'],
  ['calico', '  network:\n    plugin: calico\n'],
];

describe.each(NETWORKS)('hostPort under %s', (_name, network) => {
  const dir = demoWith(network);

  it('from outside to the node address:8080: DNATed to the pod on port 80, the reply leaves again', async () => {
    const o = await trace(
      dir,
      '--src',
      '192.168.1.50:40000',
      '--dst',
      '10.0.0.13:8080',
      '--node',
      'worker-2',
    );
    expect(o.dnat).toBe('10.244.2.50:80');
    expect(o.path.arrived).toMatchObject({
      kind: 'pod',
      pod: 'default/hp',
      from: '192.168.1.50:40000',
      to: '10.244.2.50:80',
    });
    // Un-DNATed on the way out: the client sees the node's address and the host port.
    expect(o.path.replyArrived).toMatchObject({ kind: 'outside', from: '10.0.0.13:8080' });
  });

  it('from a pod on another node: reaches the pod; the reply comes back to the client pod', async () => {
    const o = await trace(dir, '--from', 'pod/default/client', '--to', 'node/worker-2:8080');
    expect(o.path.arrived).toMatchObject({ kind: 'pod', pod: 'default/hp', to: '10.244.2.50:80' });
    expect(o.path.replyArrived).toMatchObject({ kind: 'pod', pod: 'default/client', from: '10.0.0.13:8080' });
  });

  it('a port that is not a hostPort is not DNATed', async () => {
    const o = await trace(
      dir,
      '--src',
      '192.168.1.50:40000',
      '--dst',
      '10.0.0.13:8081',
      '--node',
      'worker-2',
    );
    expect(o.dnat ?? null).toBeNull();
    expect(o.path.arrived.kind).not.toBe('pod');
  });
});

describe('the portmap chains on the node', () => {
  it('the pod`s chain is CNI-DN- + the hash of the network name and its 64-hex sandbox ID', () => {
    const dir = demoWith(undefined);
    const r = buildCluster([
      ...['00-cluster.yaml', '60-hostport.yaml'].map((f) => ({
        file: f,
        text: readFileSync(join(dir, f), 'utf8'),
      })),
    ]);
    expect(r.ok).toBe(true);
    const pod = r.ok ? r.snapshot.pod('default', 'hp')! : undefined;
    expect(sandboxId(pod!)).toMatch(/^[0-9a-f]{64}$/);
    expect(portmapChain('cbr0', sandboxId(pod!))).toMatch(/^CNI-DN-[0-9a-f]{21}$/);
  });
});
