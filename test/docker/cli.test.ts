/** kpath docker ps / network ls / rules / trace, and kpath rules --node HOST, on examples/docker/host.yaml. */
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { displayablePorts } from '../../cni/docker/index.js';

const FILE = ['-f', 'examples/docker/host.yaml'];
async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('kpath docker', () => {
  it('docker ps: newest first, ports as the docker CLI shows them, tabwriter columns', async () => {
    const r = await kpath('docker', 'ps', ...FILE);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe('CONTAINER ID   IMAGE     NETWORKS   PORTS                    NAMES');
    expect(lines.slice(1).map((l) => l.slice(15).replace(/ +/g, ' '))).toEqual([
      'redis kpnet db',
      'httpd kpnet 127.0.0.1:9000->90/udp api',
      'nginx bridge 0.0.0.0:8080->80/tcp web',
    ]);
    expect(lines[1]).toMatch(/^[0-9a-f]{12} {3}redis {5}kpnet {6} {25}db$/);
  });

  it('DisplayablePorts groups ranges published on the same port numbers (docker/cli formatter)', () => {
    const b = (
      hostPort: number,
      containerPort: number,
      proto: 'tcp' | 'udp' = 'tcp',
      hostIP = '0.0.0.0',
    ) => ({
      hostIP,
      hostPort,
      containerPort,
      proto,
      random: false,
    });
    expect(displayablePorts([b(81, 81), b(80, 80), b(82, 82), b(8080, 90), b(53, 53, 'udp')])).toBe(
      '0.0.0.0:53->53/udp, 0.0.0.0:80-82->80-82/tcp, 0.0.0.0:8080->90/tcp',
    );
  });

  it('docker network ls: bridge, host, none and kpnet sorted by name', async () => {
    const r = await kpath('docker', 'network', 'ls', ...FILE);
    expect(r.out.split('\n')[0]).toBe('NETWORK ID     NAME      DRIVER    SCOPE');
    expect(
      r.out
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.slice(15).replace(/ +/g, ' ')),
    ).toEqual(['bridge bridge local', 'host host local', 'kpnet bridge local', 'none null local']);
  });

  it('kpath rules --node host prints the host as dockerd wrote it', async () => {
    const r = await kpath('rules', '--node', 'host', '--table', 'nat', ...FILE);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^\*nat$/m);
    expect(r.out).toContain(
      '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
    );
    expect(r.out).not.toContain('*filter');
  });

  it('docker trace: a container to its own published port goes through docker-proxy', async () => {
    const r = await kpath('docker', 'trace', ...FILE, '--from', 'container/web', '--to', '192.0.2.10:8080');
    expect(r.code).toBe(0);
    expect(r.out).toContain('nat: -A DOCKER -i docker0 -j RETURN');
    expect(r.out).toContain('docker-proxy connects: tcp 172.17.0.1:40001 -> 172.17.0.2:80');
    expect(r.out).toMatch(/=> container web receives it from 172\.17\.0\.1:40001\n$/);
    const j = await kpath(
      'docker',
      'trace',
      ...FILE,
      '--from',
      '198.51.100.7',
      '--to',
      '192.0.2.10:8080',
      '-o',
      'json',
    );
    expect(JSON.parse(j.out).path.arrived).toEqual({
      kind: 'container',
      container: 'web',
      from: '198.51.100.7:40000',
    });
  });

  it('bad input: exit 2 with the file and line', async () => {
    const r = await kpath('docker', 'ps', '-f', 'test/docker/fixtures/bad-host.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad-host\.yaml:8:\d+.*network nope not found/);
  });

  it('docker ip-route / ip-addr: the host and a container namespace', async () => {
    const host = await kpath('docker', 'ip-route', ...FILE);
    expect(host.out).toContain('172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1');
    const web = await kpath('docker', 'ip-addr', '--container', 'web', ...FILE);
    expect(web.out).toContain('link/ether 02:42:ac:11:00:02');
    expect(web.out).toContain('inet 172.17.0.2/16');
  });

  it('by name: the embedded DNS answers names on the same user-defined network only', async () => {
    const ok = await kpath(
      'docker',
      'trace',
      ...FILE,
      '--from',
      'container/db',
      '--to',
      'api:90',
      '--proto',
      'udp',
    );
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/=> container api receives it from 172\.18\.0\.3:40000\n$/);
    const bridge = await kpath('docker', 'trace', ...FILE, '--from', 'container/web', '--to', 'api:90');
    expect(bridge.code).not.toBe(0);
    expect(bridge.err).toMatch(/default bridge, which has no embedded DNS/);
  });

  it("docker network inspect: the engine's NetworkResource, containers with their MAC and address", async () => {
    const r = await kpath('docker', 'network', 'inspect', 'kpnet', ...FILE);
    expect(r.code).toBe(0);
    const [net] = JSON.parse(r.out) as [Record<string, unknown>];
    expect(Object.keys(net)).toEqual([
      'Name',
      'Id',
      'Created',
      'Scope',
      'Driver',
      'EnableIPv6',
      'IPAM',
      'Internal',
      'Attachable',
      'Ingress',
      'ConfigFrom',
      'ConfigOnly',
      'Containers',
      'Options',
      'Labels',
    ]);
    expect(net.IPAM).toEqual({
      Driver: 'default',
      Options: {},
      Config: [{ Subnet: '172.18.0.0/16', Gateway: '172.18.0.1' }],
    });
    const ctrs = Object.values(
      net.Containers as Record<string, { Name: string; MacAddress: string; IPv4Address: string }>,
    );
    expect(ctrs.map((c) => `${c.Name} ${c.MacAddress} ${c.IPv4Address}`).sort()).toEqual([
      'api 02:42:ac:12:00:02 172.18.0.2/16',
      'db 02:42:ac:12:00:03 172.18.0.3/16',
    ]);
    expect(r.out.startsWith('[\n    {\n        "Name": "kpnet",')).toBe(true);
    const missing = await kpath('docker', 'network', 'inspect', 'nope', ...FILE);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toContain('Error: No such network: nope');
  });
});
