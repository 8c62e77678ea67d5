/** kind: DockerHost: decoding, dockerd's own refusals as file:line errors, and the plan dockerd makes. */
import { describe, expect, it } from 'vitest';
import { buildCluster, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { parsePortSpec, planDockerHost } from '../../netmodel/docker/index.js';

const HOST = `apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 192.0.2.1/24
  engine: {version: "20.10", userlandProxy: true}
  networks: [{name: kpnet}, {name: other}]
  containers:
    - {name: web, image: nginx, ports: ["8080:80", "127.0.0.1:8081:80/udp"]}
    - {name: api, image: httpd, network: kpnet, ports: ["9000-9001:90-91", "5000"]}
    - {name: db, image: redis, network: kpnet}
`;

function build(text: string) {
  return buildCluster([{ file: 'host.yaml', text }]);
}

describe('DockerHost decode', () => {
  it('decodes the host as the docker commands that built it', () => {
    const r = build(HOST);
    if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
    const h = r.snapshot.dockerHosts[0]!;
    expect(h.name).toBe('host');
    expect(h.engine).toEqual({ version: '20.10', userlandProxy: true });
    expect(h.networks.map((n) => n.name)).toEqual(['kpnet', 'other']);
    expect(h.containers.map((c) => [c.name, c.network])).toEqual([
      ['web', 'bridge'],
      ['api', 'kpnet'],
      ['db', 'kpnet'],
    ]);
    const { plan, problems } = planDockerHost(h);
    expect(problems).toEqual([]);
    // docker0 172.17.0.0/16, then the default pools in order.
    expect(
      plan.networks.map((n) => [
        n.bridge.startsWith('br-') ? 'br-' : n.bridge,
        n.subnet.text,
        n.gateway.text,
      ]),
    ).toEqual([
      ['docker0', '172.17.0.0/16', '172.17.0.1'],
      ['br-', '172.18.0.0/16', '172.18.0.1'],
      ['br-', '172.19.0.0/16', '172.19.0.1'],
    ]);
    expect(plan.networks[1]!.bridge).toMatch(/^br-[0-9a-f]{12}$/);
    expect(plan.networks[1]!.bridge).toBe(`br-${plan.networks[1]!.id.slice(0, 12)}`);
    // IPAM from .2 per network; MAC 02:42 + the IPv4 address (02:42:ac:11:00:02 for 172.17.0.2).
    expect(plan.containers.map((c) => [c.name, c.ip.text, c.mac])).toEqual([
      ['web', '172.17.0.2', '02:42:ac:11:00:02'],
      ['api', '172.18.0.2', '02:42:ac:12:00:02'],
      ['db', '172.18.0.3', '02:42:ac:12:00:03'],
    ]);
    expect(plan.containers[0]!.veth).toMatch(/^veth[0-9a-f]{7}$/);
    expect(plan.containers[1]!.ports).toEqual([
      { hostIP: '0.0.0.0', hostPort: 9000, containerPort: 90, proto: 'tcp', random: false },
      { hostIP: '0.0.0.0', hostPort: 9001, containerPort: 91, proto: 'tcp', random: false },
      { hostIP: '0.0.0.0', hostPort: 32768, containerPort: 5000, proto: 'tcp', random: true },
    ]);
  });

  it('parses -p as docker run does', () => {
    expect(parsePortSpec('80')).toMatchObject({
      hostIP: '',
      containerPorts: { start: 80, end: 80 },
      proto: 'tcp',
    });
    expect(parsePortSpec('[::1]:8080:80/sctp')).toMatchObject({
      hostIP: '::1',
      hostPorts: { start: 8080, end: 8080 },
      proto: 'sctp',
    });
    expect(parsePortSpec('127.0.0.1::80')).toMatchObject({
      hostIP: '127.0.0.1',
      containerPorts: { start: 80, end: 80 },
    });
    expect(parsePortSpec('127.0.0.1::80')).not.toHaveProperty('hostPorts');
    expect(parsePortSpec('8000-8010:80')).toMatchObject({ hostPorts: { start: 8000, end: 8010 } });
    expect(parsePortSpec('8000-8001:80-82')).toMatch(/ranges/);
    expect(parsePortSpec('80/icmp')).toMatch(/invalid proto/);
    expect(parsePortSpec('0:80')).toMatch(/1-65535/);
    expect(parsePortSpec('a:b:c:d')).toMatch(/too many colons/);
  });

  it('reports bad input at file:line, including what dockerd refuses', () => {
    const bad = `apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 192.0.2.1
  engine: {version: "19.03"}
  networks: [{name: bridge}, {name: n1, subnet: 10.1.0.0/16}, {name: n2, subnet: 10.1.2.0/24}]
  containers:
    - {name: a, image: nginx, ports: ["8080:80", "80/icmp", "3868/sctp"]}
    - {name: b, image: nginx, network: nope}
    - {name: c, image: nginx, ports: ["127.0.0.1:8080:80"]}
    - {name: a, image: nginx}
`;
    const r = build(bad);
    expect(r.ok).toBe(false);
    const text = r.diagnostics.map(formatDiagnostic).join('\n');
    expect(text).toMatch(/host\.yaml:5:\d+.*spec\.address.*prefix length/);
    expect(text).toMatch(/host\.yaml:6:\d+.*unsupported value "19\.03"/);
    expect(text).toMatch(/host\.yaml:7:\d+.*network with name bridge already exists/);
    expect(text).toMatch(/host\.yaml:9:\d+.*invalid proto "icmp"/);
    expect(text).not.toMatch(/3868/);
    expect(text).toMatch(/host\.yaml:12:\d+.*already in use/);
    // Address missing: the plan is not checked; give a valid address and the plan's refusals show.
    const r2 = build(bad.replace('192.0.2.1\n', '192.0.2.1/24\n'));
    const t2 = r2.diagnostics.map(formatDiagnostic).join('\n');
    expect(t2).toMatch(/host\.yaml:7:\d+.*Pool overlaps with other one/);
    expect(t2).toMatch(/host\.yaml:10:\d+.*network nope not found/);
    expect(t2).toMatch(
      /host\.yaml:11:\d+.*Bind for 127\.0\.0\.1:8080 failed: port is already allocated \(by container a\)/,
    );
  });
});
