/**
 * `kpath trace` on the bundled example under every pod network: hops name namespaces and devices,
 * the JSON keeps its shape (path.arrived is the receiving pod), and --proto icmp / --size / --df
 * tell the MTU story.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

const DEMO = join(import.meta.dirname, '../../examples/demo');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The demo with another `network:` block (undefined: none, the bridge default). */
function demoWith(network: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), 'kpath-podnet-'));
  dirs.push(dir);
  cpSync(DEMO, dir, { recursive: true });
  const f = join(dir, '00-cluster.yaml');
  const text = readFileSync(f, 'utf8').replace(
    / {2}network:\n {4}plugin: flannel\n {4}backend: vxlan\n/,
    network ?? '',
  );
  writeFileSync(f, text);
  return dir;
}

async function kpath(cwd: string, ...argv: string[]) {
  const io = bufferIO(cwd);
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

const NETWORKS: [string, string | undefined][] = [
  ['bridge', undefined],
  ['flannel vxlan', '  network:\n    plugin: flannel\n    backend: vxlan\n'],
  ['flannel host-gw', '  network:\n    plugin: flannel\n    backend: host-gw\n'],
  ['calico', '  network:\n    plugin: calico\n'],
];

interface PathJson {
  forward: { node: string }[];
  arrived: { kind: string; pod?: string; to?: string; reason?: string; ns?: string; dev?: string | null };
  steps: { kind: string; interface?: string; frame?: { vxlan?: { vni: number } } }[];
  replyArrived?: { kind: string; pod?: string; from?: string };
}

describe.each(NETWORKS)('kpath trace under %s', (name, network) => {
  const dir = demoWith(network);
  it('client to the web service: every outcome reaches its web pod and the reply comes back from the service', async () => {
    const r = await kpath(
      dir,
      'trace',
      '-f',
      dir,
      '--from',
      'pod/default/client',
      '--to',
      'svc/default/web',
      '--all',
      '-o',
      'json',
    );
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as { outcomes: { dnat: string; path: PathJson }[] };
    expect(j.outcomes).toHaveLength(3);
    for (const o of j.outcomes) {
      expect(o.path.arrived).toMatchObject({ kind: 'pod', to: o.dnat });
      expect(o.path.arrived.pod).toMatch(/^default\/web-/);
      expect(o.path.forward[0]!.node).toBe('worker-1');
      expect(o.path.steps[0]).toMatchObject({ kind: 'stack' });
      expect(o.path.steps.find((s) => s.kind === 'frame')?.interface).toBe('pod/default/client/eth0');
      const encapsulated = o.path.steps.some((s) => s.frame?.vxlan);
      expect(encapsulated).toBe(name === 'flannel vxlan' && !o.dnat.startsWith('10.244.1.'));
      expect(o.path.replyArrived).toMatchObject({ kind: 'pod', pod: 'default/client' });
      expect(o.path.replyArrived!.from).toMatch(/^10\.\d+\.\d+\.\d+:80$/);
    }
  });
});

describe('kpath trace --proto icmp, --size, --df (demo: flannel vxlan, pods at MTU 1450)', () => {
  const dir = DEMO;
  const web = async () => {
    const r = await kpath(dir, 'get', 'pods', '-o', 'json');
    const pods = JSON.parse(r.out) as { items: { metadata: { name: string }; spec: { nodeName: string } }[] };
    return pods.items.find((p) => p.metadata.name.startsWith('web-') && p.spec.nodeName !== 'worker-1')!
      .metadata.name;
  };
  it('a ping to a pod on another node: echo request out, device by device, the echo reply back', async () => {
    const w = await web();
    const r = await kpath(
      dir,
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      `pod/default/${w}:0`,
      '--proto',
      'icmp',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /pod\/default\/client\/eth0 out .*icmp 10\.244\.1\.\d+ > 10\.244\.\d+\.\d+ echo request, ttl 64 id \d+ DF len 84/,
    );
    expect(r.out).toMatch(/worker-1\/flannel\.1 out .* ttl 63 /);
    expect(r.out).toMatch(
      /worker-1\/eth0 out .*udp 10\.0\.0\.\d+:\d+ -> 10\.0\.0\.\d+:8472, ttl 64 id \d+ len 134, VXLAN vni 1 \{/,
    );
    expect(r.out).toMatch(/encap .*VXLAN VNI 1, UDP .*\+50 bytes/);
    expect(r.out).toMatch(/=> pod default\/client on worker-1 receives icmp type 0/);
  });
  it('--size 1423 --df fails in the sender with EMSGSIZE; --size 1423 without DF is fragmented', async () => {
    const w = await web();
    const big = await kpath(
      dir,
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      `pod/default/${w}:0`,
      '--proto',
      'icmp',
      '--size',
      '1423',
      '--df',
      '-o',
      'json',
    );
    const j = JSON.parse(big.out) as { outcomes: { path: PathJson }[] };
    expect(j.outcomes[0]!.path.arrived).toMatchObject({
      kind: 'stopped',
      ns: 'pod/default/client',
      dev: 'eth0',
    });
    expect(j.outcomes[0]!.path.arrived.reason).toMatch(/EMSGSIZE/);
    const frag = await kpath(
      dir,
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      `pod/default/${w}:0`,
      '--proto',
      'icmp',
      '--size',
      '1423',
    );
    expect(frag.out).toMatch(/2 fragments \(1444 \+ 27 bytes\)/);
    expect(frag.out).toMatch(/=> pod default\/web-.* receives icmp type 8/);
  });
  it('bad --size is a usage error (exit 2)', async () => {
    const r = await kpath(
      dir,
      'trace',
      '--from',
      'pod/default/client',
      '--to',
      'svc/default/web',
      '--size',
      '-3',
    );
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--size -3/);
  });
});

describe('kpath net', () => {
  it('prints a node or a pod namespace as iproute2 does; bad names are errors', async () => {
    const route = await kpath(DEMO, 'net', '--node', 'worker-1', 'ip-route');
    expect(route.code).toBe(0);
    expect(route.out).toMatch(/^default via 10\.0\.0\.1 dev eth0 \n/);
    expect(route.out).toMatch(/^10\.244\.2\.0\/24 via 10\.244\.2\.0 dev flannel\.1 onlink \n/m);
    const neigh = await kpath(DEMO, 'net', '--node', 'worker-1', 'ip-neigh');
    expect(neigh.out).toMatch(/^10\.244\.0\.0 dev flannel\.1 lladdr [0-9a-f:]{17} PERMANENT \n/m);
    const fdb = await kpath(DEMO, 'net', '--node', 'worker-1', 'bridge-fdb');
    expect(fdb.out).toMatch(/ dev flannel\.1 dst 10\.0\.0\.\d+ self permanent\n/);
    const pod = await kpath(DEMO, 'net', '--pod', 'default/client');
    expect(pod.out).toMatch(/^2: eth0@if\d+: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 /m);
    expect(pod.out).toMatch(/inet 10\.244\.1\.\d+\/24 brd 10\.244\.1\.255 scope global eth0/);
    expect((await kpath(DEMO, 'net', '--pod', 'nope')).code).toBe(2);
    expect((await kpath(DEMO, 'net', '--node', 'ghost')).code).toBe(1);
  });
});
