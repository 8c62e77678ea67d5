/**
 * `kpath curl` against a real runtime started in-process (as test/up does) on its own addresses:
 * names resolve through the runtime's kube-dns with the pod's search path, the socket binds the
 * source's twin, and the report names the service, the endpoint pod and the address it saw.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSource, resolveHost } from '../../cli/client/index.js';
import { bufferIO } from '../../cli/io.js';
import { main } from '../../cli/main.js';
import { TwinMap } from '../../netmodel/twins.js';
import { loadCluster } from '../../proxy/manifest-files.js';
import type { Runtime } from '../../proxy/runtime/index.js';
import { addrs, baseCluster, echoDeployment, service, up, writeCluster } from '../up/helpers.js';

const SLOT = 26;
const a = addrs(SLOT);
const DNS_PORT = 5353;

const yaml = baseCluster(
  SLOT,
  `${echoDeployment('web', 2)}${service('web', { ip: a.svcIP(20), port: 8000 })}${service('web-np', {
    ip: a.svcIP(21),
    port: 8001,
    type: 'NodePort',
    nodePort: a.nodePort(1),
    selector: 'web',
  })}---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: coredns
  namespace: kube-system
spec:
  replicas: 1
  selector:
    matchLabels:
      k8s-app: kube-dns
  template:
    metadata:
      labels:
        k8s-app: kube-dns
    spec:
      containers:
        - name: coredns
          image: kpath/dns
          ports:
            - name: dns
              containerPort: ${DNS_PORT}
              protocol: UDP
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
spec:
  clusterIP: ${a.svcIP(10)}
  selector:
    k8s-app: kube-dns
  ports:
    - name: dns
      port: ${DNS_PORT}
      protocol: UDP
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: default
spec:
  nodeName: node-a
  containers:
    - name: shell
      image: kpath/echo
`,
  'iptables',
);

let rt: Runtime;
let file: string;

async function curl(...argv: string[]) {
  const io = bufferIO();
  const code = await main(['curl', ...argv, '-f', file], io);
  return { code, out: io.stdout(), err: io.stderr() };
}

beforeAll(async () => {
  file = writeCluster(yaml).file;
  rt = await up({ files: [file], watch: false });
});
afterAll(async () => {
  await rt?.stop();
});

describe('kpath curl', () => {
  it('as a pod: resolves the short name through kube-dns with the pod search path, says where it went', async () => {
    const clientIP = rt.snapshot()!.pod('default', 'client')!.podIPs[0]!.text;
    const r = await curl('--from', 'pod/default/client', 'http://web:8000/hello', '-v');
    expect(r.code, r.err).toBe(0);
    const body = JSON.parse(r.out) as { pod: string; client: string; path: string };
    expect(body.pod).toMatch(/^web-/);
    expect(body.path).toBe('/hello');
    expect(body.client.startsWith(`${clientIP}:`)).toBe(true);
    expect(r.err).toContain(
      `from pod/default/client (${clientIP}, bound to its twin ${clientIP.replace(/^10\./, '127.')})`,
    );
    expect(r.err).toContain(`web.default.svc.cluster.local. A -> NOERROR ${a.svcIP(20)}`);
    expect(r.err).toContain(`to service default/web:http (ClusterIP ${a.svcIP(20)}:8000)`);
    expect(r.err).toContain(`endpoint: pod default/${body.pod} `);
    expect(r.err).toContain(`the pod saw the client as ${body.client} (the client's own address: no SNAT)`);
    expect(r.err).toContain('> GET /hello HTTP/1.1');
    expect(r.err).toContain('< HTTP/1.1 200 OK');
  });

  it('web.default and the FQDN resolve to the same service; a missing name is curl exit 6', async () => {
    for (const name of ['web.default', 'web.default.svc.cluster.local']) {
      const r = await curl('--from', 'pod/default/client', `http://${name}:8000/`);
      expect(r.code, r.err).toBe(0);
      expect(r.err).toContain(`-> web.default.svc.cluster.local. ${a.svcIP(20)}`);
    }
    const nope = await curl('--from', 'pod/default/client', 'http://nope:8000/');
    expect(nope.code).toBe(6);
    expect(nope.err).toMatch(/Could not resolve host: nope/);
  });

  it('as a node to a NodePort: the pod sees the masqueraded source', async () => {
    const r = await curl('--from', 'node/node-b', `http://${a.nodeIP(12)}:${a.nodePort(1)}/`);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`NodePort ${a.nodePort(1)} on node node-b ${a.nodeIP(12)}`);
    // Local-origin traffic to a node port is masqueraded: to node-b's eth0 address when the endpoint is
    // on node-a, to its cni0 address (the pod CIDR's .1) when the endpoint is on node-b itself.
    const body = JSON.parse(r.out) as { client: string; node: string };
    const seen = body.client.replace(/:\d+$/, '');
    expect(seen).toBe(body.node === 'node-b' ? `10.${200 + SLOT}.2.1` : a.nodeIP(12));
    expect(r.err).toContain(
      `the pod saw the client as ${body.client} (node node-b's ${body.node === 'node-b' ? 'cni0 address' : 'address'}`,
    );
  });

  it('curl flags: -s, -i, -X/-d, -H, -o', async () => {
    const s = await curl(
      '-s',
      '--from',
      'pod/default/client',
      '-X',
      'PUT',
      '-d',
      'x=1',
      '-H',
      'X-A: b',
      `http://${a.svcIP(20)}:8000/p`,
    );
    expect(s.err).toBe('');
    expect((JSON.parse(s.out) as { method: string }).method).toBe('PUT');
    const i = await curl('-s', '-i', `http://${a.svcIP(20)}:8000/`);
    expect(i.out).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const out = join(mkdtempSync(join(tmpdir(), 'kpath-curl-')), 'body.json');
    const o = await curl('-s', '-o', out, `http://${a.svcIP(20)}:8000/`);
    expect(o.out).toBe('');
    expect(JSON.parse(readFileSync(out, 'utf8')).pod).toMatch(/^web-/);
  });

  it('nothing listening is curl exit 7 with a hint; an address without a twin is refused', async () => {
    const r = await curl(`http://${a.svcIP(99)}:8000/`);
    expect(r.code).toBe(7);
    expect(r.err).toMatch(/Connection refused.*kpath up/);
    const far = await curl('http://8.8.8.8/');
    expect(far.code).toBe(2);
    expect(far.err).toMatch(/no loopback twin/);
  });

  it('a cluster without kube-dns (the DNS addon off): names resolve from the model, with the same search path', async () => {
    const r = loadCluster(['examples/scenarios/no-endpoints'], process.cwd(), 1, { dnsAddon: false });
    if (!r.ok) throw new Error('scenario');
    const twins = new TwinMap(r.snapshot.config.loopbackMap);
    const src = parseSource('pod/default/client', r.snapshot, twins);
    const res = await resolveHost('api', src, r.snapshot, twins);
    expect(res.fromModel).toBe(true);
    expect(res.resolvedName).toBe('api.default.svc.cluster.local.');
    expect(res.address).toBe(r.snapshot.service('default', 'api')!.clusterIPs[0]!.text);
  });
});
