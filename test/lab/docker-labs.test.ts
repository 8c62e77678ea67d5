/**
 * The Docker labs as a learner takes them, with real traffic (start, check fails, solve, check
 * passes), and what makes a lab run with a DockerHost safe next to anything else: its containers'
 * twins, the host's 127.0.0.1 ports and the embedded DNS move into the run's slot, and privileged
 * `-p`/`--expose` ports move up with the rest when not root.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CHECK_KINDS } from '../../lab/checks/index.js';
import { labSlot, loadLab, runChecks } from '../../lab/index.js';
import { parsePrefix } from '../../netmodel/addr.js';
import { buildCluster } from '../../netmodel/cluster/index.js';
import { relocateManifests } from '../../proxy/isolated/index.js';
import { detail, failed, lab, roundTrip } from './helpers.js';

function listen(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}

const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

// docker-publish-localhost: `-p 127.0.0.1:8080:80` publishes on the host's loopback only.
describe('lab docker-publish-localhost', () => {
  it('customers are refused until web is published on every address; admin stays on 127.0.0.1', async () => {
    const { broken, fixed } = await roundTrip('docker-publish-localhost');
    expect(failed(broken)).toEqual(['a customer reaches the shop at 10.0.0.20:8080']);
    // Real Docker: no DNAT rule matches 10.0.0.20 (the rule is -d 127.0.0.1/32), no socket listens: RST.
    expect(detail(broken, 'a customer reaches the shop at 10.0.0.20:8080')).toBe(
      '2 of 2 requests: connection refused (or reset before any answer) (Failed to connect to 10.0.0.20 port 8080: Connection refused); expected an HTTP answer',
    );
    expect(detail(broken, 'the shop answers on the box at 127.0.0.1:8080')).toBe('HTTP 200 from web');
    // DNAT from outside keeps the customer's address (dockerd adds no MASQUERADE for it).
    expect(detail(fixed, 'a customer reaches the shop at 10.0.0.20:8080')).toBe(
      '2 requests: HTTP 200 from web x2, which saw the client as 192.0.2.7',
    );
    expect(fixed.checks.find((c) => c.name === 'the admin UI stays closed to customers')?.passed).toBe(true);
  });
});

// docker-bridge-dns: the default bridge has no embedded DNS; a user-defined network has.
describe('lab docker-bridge-dns', () => {
  it('web cannot resolve api on docker0, then reaches it by name through the embedded DNS', async () => {
    const { broken, fixed } = await roundTrip('docker-bridge-dns');
    expect(failed(broken)).toEqual(['web reaches the API at http://api:8000/']);
    expect(detail(broken, 'web reaches the API at http://api:8000/')).toBe(
      "2 of 2 requests: the name did not resolve (Could not resolve host: api (asked the host's resolvers, as web's resolv.conf says)); expected an HTTP answer",
    );
    expect(detail(fixed, 'web reaches the API at http://api:8000/')).toBe('2 requests: HTTP 200 from api x2');
    expect(detail(fixed, 'readers reach the blog at 10.0.0.30:8080')).toBe('HTTP 200 from web');
  });
});

// docker-proxy-source: with the userland proxy on, a container's call to the host's published port
// is not DNATed (DOCKER: -i docker0 -j RETURN) but taken by docker-proxy, which dials from docker0's address.
describe('lab docker-proxy-source', () => {
  it('web sees worker as 172.17.0.1 until the userland proxy is off, customers as themselves throughout', async () => {
    const { broken, fixed } = await roundTrip('docker-proxy-source');
    expect(failed(broken)).toEqual(["web sees worker's own address"]);
    expect(detail(broken, "web sees worker's own address")).toBe(
      "2 of 2 requests: the container saw the client as 172.17.0.1 (the bridge network's gateway on shop); expected 172.17.0.3 (the client's own address)",
    );
    expect(detail(broken, "web sees a customer's own address")).toBe(
      'HTTP 200 from web, which saw the client as 192.0.2.7',
    );
    expect(detail(fixed, "web sees worker's own address")).toBe(
      '2 requests: HTTP 200 from web x2, which saw the client as 172.17.0.3',
    );
    // With the proxy off the host's 127.0.0.1:8080 is served by the OUTPUT DNAT, still by web.
    expect(detail(fixed, 'the shop answers on the box at 127.0.0.1:8080')).toBe('HTTP 200 from web');
  });
});

describe('a lab run with a Docker host, next to other runs', () => {
  it("passes while 127.0.0.1:8080 and the containers' default twins are taken (a kpath up of the same host)", async () => {
    // What `kpath up` of the fixed blog host holds: web's published port on 127.0.0.1, api's
    // echo server on 172.18.0.2's default twin, the embedded DNS on 127.0.0.11:53 (root only).
    const held = [await listen('127.0.0.1', 8080), await listen('127.18.0.2', 8000)];
    const udp = createSocket('udp4');
    await new Promise<void>((r) => {
      udp.once('error', () => r());
      udp.bind({ address: '127.0.0.11', port: 53, exclusive: true }, () => r());
    });
    const dir = join(mkdtempSync(join(tmpdir(), 'kpath-lab-dockerbusy-')), 'blog');
    try {
      expect((await lab('start', 'docker-bridge-dns', '--dir', dir)).code).toBe(0);
      expect((await lab('solve', '--dir', dir)).code).toBe(0);
      // Two runs at once: each takes its own slot (twins, localhost address, DNS address).
      const [a, b] = await Promise.all([
        runChecks(loadLab('docker-bridge-dns'), dir),
        runChecks(loadLab('docker-bridge-dns'), dir),
      ]);
      for (const r of [a, b]) {
        expect('invalid' in r).toBe(false);
        if (!('invalid' in r)) expect(r.checks.filter((c) => !c.passed)).toEqual([]);
      }
    } finally {
      for (const s of held) await close(s);
      try {
        udp.close();
      } catch {
        // never bound
      }
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  it('with ports shifted (not root): 80 and 8000 serve on 10080 and 8000, and the checks still pass', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'kpath-lab-dockershift-')), 'shop');
    try {
      expect((await lab('start', 'docker-publish-localhost', '--dir', dir)).code).toBe(0);
      const broken = await runChecks(loadLab('docker-publish-localhost'), dir, { shiftPorts: true });
      expect('invalid' in broken || broken.passed).toBe(false);
      expect((await lab('solve', '--dir', dir)).code).toBe(0);
      const fixed = await runChecks(loadLab('docker-publish-localhost'), dir, { shiftPorts: true });
      expect('invalid' in fixed ? fixed.invalid : fixed.checks.filter((c) => !c.passed)).toEqual([]);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});

describe('relocating a DockerHost into a lab slot', () => {
  const host = `apiVersion: kpath.dev/v1alpha1
kind: DockerHost
metadata: {name: h}
spec:
  address: 10.0.0.20/24
  engine: {version: "20.10", userlandProxy: true}
  networks: [{name: app}]
  containers:
    - {name: web, image: nginx, ports: ["80:80", "127.0.0.1:53:53/udp", "[::1]:8443:443", "8000-8001:80-81", "443", "9000:9000"], expose: [80, "5353/udp", 8080]}
    - {name: db, image: redis, network: app}
`;

  it('moves privileged -p and --expose ports up by 10000 on both sides, as written otherwise', () => {
    const out = relocateManifests([{ file: 'h.yaml', text: host }], { loopbackMap: [], shiftPorts: true });
    const web = parseAllDocuments(out[0]!.text)[0]!.toJS().spec.containers[0];
    expect(web.ports).toEqual([
      '10080:10080/tcp',
      '127.0.0.1:10053:10053/udp',
      '[::1]:8443:10443/tcp',
      '8000-8001:10080-10081/tcp',
      '10443/tcp',
      '9000:9000/tcp',
    ]);
    expect(web.expose).toEqual([10080, '5353/udp', 8080]);
  });

  it("gives each Docker network's first /24 a twin in the slot, the host's localhost and DNS an address of it", () => {
    const built = buildCluster([{ file: 'h.yaml', text: host }]);
    expect(built.ok).toBe(true);
    const slot = labSlot(3, [
      parsePrefix('172.17.0.0/16'),
      parsePrefix('172.18.0.0/16'),
      parsePrefix('192.168.5.0/28'),
    ]);
    expect(slot.loopbackMap.slice(0, 3)).toEqual([
      { model: '172.17.0.0/24', loopback: '127.11.16.0/24' },
      { model: '172.18.0.0/24', loopback: '127.11.17.0/24' },
      { model: '192.168.5.0/28', loopback: '127.11.18.0/28' },
    ]);
    expect(slot.runtime).toEqual({
      dockerLocalhost: '127.11.1.1',
      dockerDns: { host: '127.11.1.11', port: 0 },
    });
    // A cluster without Docker hosts keeps its slot as it was.
    expect(labSlot(3).runtime).toBeUndefined();
    const relocated = relocateManifests([{ file: 'h.yaml', text: host }], {
      loopbackMap: slot.loopbackMap,
      shiftPorts: false,
    });
    const r = buildCluster(relocated);
    expect(r.ok).toBe(true);
    // The model is unchanged: the same container addresses, now with twins in the slot.
    if (r.ok && built.ok)
      expect(r.snapshot.dockerHosts).toEqual(
        built.snapshot.dockerHosts.map((h) => ({ ...h, origin: expect.anything() })),
      );
  });
});

describe('kind docker-http', () => {
  const prepare = (raw: Record<string, unknown>) =>
    CHECK_KINDS['docker-http']!.prepare(raw, 'lab.yaml: checks[0]');

  it('takes container/NAME, external, external/IP and host as the sender, and nothing else', () => {
    for (const from of ['container/web', 'external', 'external/192.0.2.7', 'host'])
      expect(() => prepare({ kind: 'docker-http', from, url: 'http://api:8000/' })).not.toThrow();
    expect(() => prepare({ kind: 'docker-http', from: 'pod/default/x', url: 'http://a/' })).toThrow(
      'lab.yaml: checks[0]: from: required: container/NAME, external, external/IP or host',
    );
    expect(() =>
      prepare({ kind: 'docker-http', from: 'host', url: 'http://a/', expect: { servdBy: 'web' } }),
    ).toThrow(/servdBy: unknown field/);
  });
});
