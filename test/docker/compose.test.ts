/** A Compose file read as the DockerHost `docker compose up` makes (Compose specification, compose v2 naming). */
import { describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { buildCluster, formatDiagnostic } from '../../netmodel/cluster/index.js';
import { planDockerHost } from '../../netmodel/docker/index.js';

describe('Compose', () => {
  it('project networks, <project>-<service>-1 containers in depends_on order, short and long port syntax', async () => {
    const io = bufferIO();
    expect(await main(['docker', 'ps', '-f', 'examples/docker/shop/compose.yaml'], io)).toBe(0);
    const rows = io
      .stdout()
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.slice(15).replace(/ +/g, ' '));
    expect(rows).toEqual([
      'nginx shop_default 0.0.0.0:8080->80/tcp shop-web-1',
      'httpd shop_back 127.0.0.1:9000->90/udp shop-api-1',
      'postgres shop_back shop-db-1',
    ]);
  });

  it('internal networks, driver_opts enable_icc and expose are read', () => {
    const text = `services:
  a: {image: x, networks: [back], expose: ["5432", "53/udp"]}
  b: {image: y, networks: [quiet]}
networks:
  back: {internal: true}
  quiet: {driver_opts: {com.docker.network.bridge.enable_icc: "false"}}
`;
    const r = buildCluster([{ file: 'proj/compose.yaml', text }]);
    if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
    const { plan } = planDockerHost(r.snapshot.dockerHosts[0]!);
    expect(plan.networks.map((n) => `${n.name} internal=${n.internal} icc=${n.icc}`)).toEqual([
      'bridge internal=false icc=true',
      'proj_back internal=true icc=true',
      'proj_quiet internal=false icc=false',
    ]);
    expect(plan.containers[0]!.listens).toEqual([
      { port: 53, proto: 'udp' },
      { port: 5432, proto: 'tcp' },
    ]);
  });

  it('networks in key order take the default pools; containers in file order without depends_on', () => {
    const text = 'services:\n  a: {image: x, networks: [zz]}\n  b: {image: y}\nnetworks: {zz: {}}\n';
    const r = buildCluster([{ file: 'proj/compose.yaml', text }]);
    if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
    const { plan } = planDockerHost(r.snapshot.dockerHosts[0]!);
    expect(plan.networks.map((n) => `${n.name} ${n.subnet.text}`)).toEqual([
      'bridge 172.17.0.0/16',
      'proj_default 172.18.0.0/16',
      'proj_zz 172.19.0.0/16',
    ]);
    expect(plan.containers.map((c) => `${c.name} ${c.ip.text}`)).toEqual([
      'proj-a-1 172.19.0.2',
      'proj-b-1 172.18.0.2',
    ]);
  });

  it('errors at the line: undefined network, missing image, unknown dependency', () => {
    const text =
      'services:\n  a: {image: x, networks: [nope]}\n  b: {depends_on: [zz]}\n  c: {image: z, depends_on: [zz]}\n';
    const r = buildCluster([{ file: 'p/compose.yaml', text }]);
    expect(r.ok).toBe(false);
    const t = r.diagnostics.map(formatDiagnostic).join('\n');
    expect(t).toMatch(/compose\.yaml:2:\d+.*undefined network nope/);
    expect(t).toMatch(/compose\.yaml:3:\d+.*required: an image/);
    expect(t).toMatch(/compose\.yaml:4:\d+.*undefined service "zz"/);
  });
});
