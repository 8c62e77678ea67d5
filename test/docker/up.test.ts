/**
 * `kpath up` with a DockerHost, real sockets on loopback (slot 56: the host 10.56.0.10 -> 127.56.0.10,
 * networks 172.30.56.0/24 and 172.30.57.0/24 -> 127.30.56/24, 127.30.57/24, docker0 -> 127.17.0.0/16,
 * host ports 35600-35699). Each connection is forwarded as the emulated host decides; the expected
 * sources are docker's (reference/datapath.md 5.4: docker-proxy dials from the bridge address; DNAT
 * keeps the client's address; hairpin NAT masquerades to the gateway), which the paths-diff test
 * checks against a real kernel.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { decodeMessage } from '../../netmodel/dns/wire-read.js';
import { encodeMessage } from '../../netmodel/dns/wire-write.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import { get, up, writeCluster } from '../up/helpers.js';

function world(proxy: boolean) {
  const text = `apiVersion: kpath.dev/v1alpha1
kind: Cluster
metadata: {name: d56}
spec:
  dns: {addon: false}
---
apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: host}
spec:
  address: 10.56.0.10/24
  engine: {version: "20.10", userlandProxy: ${proxy}}
  networks: [{name: kpnet, subnet: 172.30.56.0/24}, {name: other, subnet: 172.30.57.0/24}]
  containers:
    - {name: web, image: nginx, ports: ["35680:80"]}
    - {name: api, image: httpd, network: kpnet, ports: ["127.0.0.1:35690:90/udp", "35691:91"]}
    - {name: db, image: redis, network: kpnet, expose: [6379]}
    - {name: lone, image: alpine, network: other, expose: [7000]}
`;
  return writeCluster(text).file;
}

async function seen(host: string, port: number, from?: string): Promise<{ pod: string; client: string }> {
  const r = await get(host, port, '/', from);
  const j = r.json() as { pod: string; client: string };
  return { pod: j.pod, client: j.client.slice(0, j.client.lastIndexOf(':')) };
}

function udp(host: string, port: number, payload: Buffer, from?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      reject(new Error('no UDP answer'));
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.bind({ address: from ?? '127.0.0.1', port: 0 }, () => s.send(payload, port, host));
  });
}

function query(name: string): Buffer {
  return Buffer.from(
    encodeMessage({
      id: 7,
      flags: 0x0100,
      questions: [{ name, type: 1, class: 1 }],
      answers: [],
      authority: [],
      additional: [],
    }).bytes,
  );
}

describe.each([true, false])('kpath up with a Docker host, userland proxy %s', (proxy) => {
  let rt: Runtime;
  let file: string;
  beforeAll(async () => {
    file = world(proxy);
    rt = await up({
      files: [file],
      watch: false,
      dockerDns: { host: '127.0.0.11', port: 0 },
      // A dropped connection is held this long, then closed (the isolation case below).
      limits: { dropHoldMs: 300 },
    });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it('serves every container on the twin of its address, a host process seeing the bridge address', async () => {
    expect(rt.docker().containers.map((c) => `${c.name} ${c.loopbackIP} ${c.ports.join(',')}`)).toEqual([
      'web 127.17.0.2 80/tcp',
      'api 127.30.56.2 90/udp,91/tcp',
      'db 127.30.56.3 6379/tcp',
      'lone 127.30.57.2 7000/tcp',
    ]);
    expect(await seen('127.17.0.2', 80)).toEqual({ pod: 'web', client: '172.17.0.1' });
  });

  it('a host process on 127.0.0.1:PORT reaches the container from the bridge address', async () => {
    // proxy on: docker-proxy dials from 172.17.0.1; off: OUTPUT DNAT (route_localnet) and the
    // `-o docker0 --src-type LOCAL` MASQUERADE.
    expect(await seen('127.0.0.1', 35680)).toEqual({ pod: 'web', client: '172.17.0.1' });
  });

  it('a client beyond eth0 is DNATed and keeps its own address', async () => {
    expect(await seen('127.56.0.10', 35680, '127.56.0.20')).toEqual({ pod: 'web', client: '10.56.0.20' });
  });

  it('the host dialling its own address is DNATed in OUTPUT', async () => {
    // proxy on: it keeps the host's address; off: `-o docker0 -m addrtype --src-type LOCAL -j
    // MASQUERADE` rewrites it to the bridge address.
    expect(await seen('127.56.0.10', 35680)).toEqual({
      pod: 'web',
      client: proxy ? '10.56.0.10' : '172.17.0.1',
    });
  });

  it('a container reaching its own published port through its gateway (hairpin)', async () => {
    // proxy on: `-i br -j RETURN` skips DNAT, docker-proxy dials from the gateway; off: DNAT then
    // the per-port `-s C -d C --dport 91 -j MASQUERADE` to the gateway.
    expect(await seen('127.30.56.1', 35691, '127.30.56.2')).toEqual({ pod: 'api', client: '172.30.56.1' });
  });

  it('a container on another network reaching a published port through its own gateway', async () => {
    // proxy on: RETURN, then docker-proxy dials api from kpnet's gateway. off: DNAT, and the
    // forwarded packet from br-other into br-kpnet meets DOCKER-ISOLATION-STAGE-2's DROP.
    if (proxy)
      expect(await seen('127.30.57.1', 35691, '127.30.57.2')).toEqual({ pod: 'api', client: '172.30.56.1' });
    else await expect(get('127.30.57.1', 35691, '/', '127.30.57.2').then(() => 'answered')).rejects.toThrow();
  });

  it('UDP on 127.0.0.1 reaches the container the same way', async () => {
    if (!proxy) return; // 127.0.0.1:35690/udp: the proxy-off path is the same DNAT as TCP above
    const who = JSON.parse((await udp('127.0.0.1', 35690, Buffer.from('whoami'))).toString()) as {
      pod: string;
      client: string;
    };
    expect(who.pod).toBe('api');
    expect(who.client.startsWith('172.30.56.1:')).toBe(true);
  });

  it("the embedded DNS answers names on the asker's network only, and the name connects", async () => {
    const dns = rt.docker().dns!;
    const [h, p] = [dns.slice(0, dns.lastIndexOf(':')), Number(dns.slice(dns.lastIndexOf(':') + 1))];
    expect(h).toBe('127.0.0.11');
    const a = decodeMessage(await udp(h, p, query('api'), '127.30.56.3'));
    expect(a.flags & 0xf).toBe(0);
    expect(a.answers.map((r) => [r.ttl, r.data])).toEqual([[600, { kind: 'address', ip: '127.30.56.2' }]]);
    const other = decodeMessage(await udp(h, p, query('api'), '127.30.57.2'));
    expect(other.flags & 0xf).toBe(3);
    expect(await seen('127.30.56.2', 91, '127.30.56.3')).toEqual({ pod: 'api', client: '172.30.56.3' });
  });
});

describe('kpath curl --from container/NAME', () => {
  let rt: Runtime;
  let file: string;
  beforeAll(async () => {
    file = world(true);
    rt = await up({ files: [file], watch: false, dockerDns: null });
  });
  afterAll(async () => {
    await rt?.stop();
  });

  it("binds the container's twin and reports the container that answered and the source it saw", async () => {
    const io = bufferIO();
    const code = await main(
      ['curl', '--from', 'container/lone', 'http://172.30.57.1:35691/', '-f', file],
      io,
    );
    expect(code).toBe(0);
    expect(io.stderr()).toContain('from container/lone (172.30.57.2, bound to its twin 127.30.57.2)');
    expect(io.stderr()).toContain('endpoint: container api (172.30.56.2:91) on Docker host host');
    expect(JSON.parse(io.stdout()).client).toMatch(/^172\.30\.56\.1:/);
  });

  it('an unknown container is a clear error', async () => {
    const io = bufferIO();
    const code = await main(
      ['curl', '--from', 'container/nope', 'http://172.30.57.1:35691/', '-f', file],
      io,
    );
    expect(code).not.toBe(0);
    expect(io.stderr()).toContain('container nope does not exist');
  });
});
