/**
 * One command for a Docker host: `kpath trace`, `kpath rules`, `kpath net` and `kpath get
 * containers` dispatch to the Docker host, alone or next to a Kubernetes cluster (each a node of its
 * own in one world), and give what `kpath docker ...` gives.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';

const HOST = ['-f', 'examples/docker/host.yaml'];
const node = join(tmpdir(), `kp-docker-world-${process.pid}.yaml`);
writeFileSync(
  node,
  `apiVersion: v1
kind: Node
metadata: {name: worker}
status: {addresses: [{type: InternalIP, address: 10.0.0.11}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
spec: {nodeName: worker, containers: [{name: c, image: busybox}]}
`,
);
const MIXED = [...HOST, '-f', node];
afterAll(() => rmSync(node, { force: true }));

async function kpath(...argv: string[]) {
  const io = bufferIO();
  const code = await main(argv, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('kpath trace on a Docker host', () => {
  it.each([
    [
      ['--from', 'container/web', '--to', '192.0.2.10:8080'],
      'container web receives it from 172.17.0.1:40001',
    ],
    [['--from', 'node/host', '--to', 'container/web:80'], 'container web receives it from 172.17.0.1:40000'],
    [
      ['--src', '198.51.100.7', '--dst', '192.0.2.10:8080'],
      'container web receives it from 198.51.100.7:40000',
    ],
    [
      ['--from', 'container/db', '--to', 'api:90', '--proto', 'udp'],
      'container api receives it from 172.18.0.3:40000',
    ],
  ])('%j, alone and next to a cluster, as kpath docker trace says', async (args, last) => {
    const docker = await kpath(
      'docker',
      'trace',
      ...HOST,
      ...args.map((a) => a.replace(/^--src$/, '--from').replace(/^--dst$/, '--to')),
    );
    expect(docker.code).toBe(0);
    expect(docker.out.trimEnd().split('\n').at(-1)).toBe(`=> ${last}`);
    const alone = await kpath('trace', ...HOST, ...args);
    expect(alone).toEqual(docker);
    // Next to a Kubernetes node, a host-less --src needs --node; container/ and node/HOST name it.
    const mixed = await kpath('trace', ...MIXED, ...(args[0] === '--src' ? ['--node', 'host'] : []), ...args);
    expect(mixed).toEqual(docker);
  });

  it('the kernel trace of the cluster is untouched next to a Docker host', async () => {
    const r = await kpath('trace', ...MIXED, '--from', 'pod/default/client', '--dst', '10.0.0.11:22');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('docker');
  });

  it('sctp and icmp are refused for a Docker host with a clear error', async () => {
    const r = await kpath(
      'trace',
      ...HOST,
      '--from',
      'container/web',
      '--to',
      '192.0.2.10:8080',
      '--proto',
      'icmp',
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('a trace through a Docker host is tcp or udp');
  });
});

describe('kpath rules / net / get containers on a Docker host', () => {
  it('rules: the Docker host alone, or by --node next to a cluster; the cluster node keeps its own', async () => {
    const docker = await kpath('docker', 'rules', ...HOST);
    expect((await kpath('rules', ...HOST)).out).toBe(docker.out);
    expect((await kpath('rules', ...MIXED, '--node', 'host')).out).toBe(docker.out);
    const worker = await kpath('rules', ...MIXED, '--node', 'worker');
    expect(worker.out).toContain('KUBE-SERVICES');
    expect(worker.out).not.toContain('DOCKER');
  });

  it('net: the host or a container namespace, as kpath docker ip-* prints it', async () => {
    for (const what of ['ip-addr', 'ip-route', 'ip-link', 'ip-neigh', 'bridge-fdb']) {
      expect((await kpath('net', what, ...HOST)).out).toBe((await kpath('docker', what, ...HOST)).out);
      expect((await kpath('net', what, ...MIXED, '--node', 'host', '--container', 'web')).out).toBe(
        (await kpath('docker', what, ...HOST, '--container', 'web')).out,
      );
    }
    expect((await kpath('net', 'ip-route', ...MIXED, '--node', 'worker')).out).toContain('dev eth0');
    const bad = await kpath('net', 'ip-addr', ...HOST, '--container', 'nope');
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain('--container nope: no such container');
  });

  it('get containers: name, image, network, IP, MAC (02:42 + the address), ports', async () => {
    const r = await kpath('get', 'containers', ...MIXED);
    expect(r.code).toBe(0);
    expect(
      r.out.split('\n').map((l) =>
        l
          .replace(/[0-9a-f]{12}/, 'ID')
          .replace(/ +/g, ' ')
          .trim(),
      ),
    ).toEqual([
      'HOST NAME CONTAINER ID IMAGE NETWORK IP MAC PORTS',
      'host web ID nginx bridge 172.17.0.2 02:42:ac:11:00:02 0.0.0.0:8080->80/tcp',
      'host api ID httpd kpnet 172.18.0.2 02:42:ac:12:00:02 127.0.0.1:9000->90/udp',
      'host db ID redis kpnet 172.18.0.3 02:42:ac:12:00:03',
      '',
    ]);
    const j = JSON.parse((await kpath('get', 'containers', ...HOST, '-o', 'json')).out);
    expect(j.containers.map((c: { name: string; ip: string }) => `${c.name} ${c.ip}`)).toEqual([
      'web 172.17.0.2',
      'api 172.18.0.2',
      'db 172.18.0.3',
    ]);
  });
});
