/**
 * `kubectl create deployment|service|namespace|configmap` against `kpath up`: kubectl's typed
 * clients send protobuf bodies, and the objects they create run (real traffic through the new
 * service's ClusterIP and NodePort to the new pods' echo servers). Also protobuf over HTTPS for what
 * kubectl itself does not send that way (a Scale PUT, DeleteOptions), and the apiserver's 400s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtobufBody } from '../../proxy/api/protobuf/index.js';
import { addrs, baseCluster, echoDeployment, get } from '../up/helpers.js';
import { startCapture } from './capture.js';
import { type Cluster, eventually, KUBECTL, NO_KUBECTL, startCluster } from './helpers.js';
import { bytes, envelope, int, msg } from './pb-writer.js';

const SLOT = 37;
const a = addrs(SLOT);
const PB = { 'Content-Type': 'application/vnd.kubernetes.protobuf' };

/** Pod names answering at host:port over `n` fresh connections. */
async function answering(host: string, port: number, n = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(String((await get(host, port)).json().pod));
  return seen;
}

const twin = (clusterIP: string) => clusterIP.replace(/^10\./, '127.');

describe.skipIf(!KUBECTL)(
  `kubectl create against kpath up${KUBECTL ? '' : ` (skipped: ${NO_KUBECTL})`}`,
  () => {
    let c: Cluster;
    beforeAll(async () => {
      c = await startCluster(baseCluster(SLOT, echoDeployment('web', 1)));
    }, 30_000);
    afterAll(async () => {
      await c?.stop();
    });

    it('create deployment + expose: the new service ClusterIP answers from the two new pods', async () => {
      const d = await c.kubectl([
        'create',
        'deployment',
        'web2',
        '--image=nginx',
        '--port=8080',
        '--replicas=2',
      ]);
      expect(d.stderr).toBe('');
      expect(d.stdout).toBe('deployment.apps/web2 created\n');
      const pods = await eventually(() => {
        const p = c.rt.pods().filter((x) => x.pod.startsWith('default/web2-'));
        return p.length === 2 ? p : undefined;
      }, 'two web2 pods');
      const dep = JSON.parse((await c.kubectl(['get', 'deploy', 'web2', '-o', 'json'])).stdout);
      expect(dep.spec.template.spec.containers).toMatchObject([
        { name: 'nginx', image: 'nginx', ports: [{ containerPort: 8080 }] },
      ]);
      expect(dep.spec.selector).toEqual({ matchLabels: { app: 'web2' } });
      const e = await c.kubectl(['expose', 'deployment', 'web2', '--port', '80', '--target-port', '8080']);
      expect(e.stdout).toBe('service/web2 exposed\n');
      const svc = JSON.parse((await c.kubectl(['get', 'svc', 'web2', '-o', 'json'])).stdout);
      expect(svc.spec.ports).toEqual([{ port: 80, protocol: 'TCP', targetPort: 8080 }]);
      const seen = await eventually(async () => {
        const s = await answering(twin(svc.spec.clusterIP), 80).catch(() => undefined);
        return s?.size === 2 ? s : undefined;
      }, 'web2:80 answering from both pods');
      expect([...seen].sort()).toEqual(pods.map((p) => p.pod.split('/')[1]).sort());
    });

    it('create service clusterip and nodeport: ports, selector app=NAME, traffic through both', async () => {
      expect((await c.kubectl(['create', 'deployment', 'np', '--image=echo', '--port=9090'])).code).toBe(0);
      const r = await c.kubectl([
        'create',
        'service',
        'nodeport',
        'np',
        '--tcp=80:9090',
        `--node-port=${a.nodePort(5)}`,
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('service/np created\n');
      const get1 = await c.kubectl(['get', 'svc', 'np']);
      expect(get1.stdout).toMatch(
        new RegExp(
          `^np\\s+NodePort\\s+10\\.${100 + SLOT}\\.\\S+\\s+<none>\\s+80:${a.nodePort(5)}/TCP\\s`,
          'm',
        ),
      );
      const svc = JSON.parse((await c.kubectl(['get', 'svc', 'np', '-o', 'json'])).stdout);
      expect(svc.spec).toMatchObject({
        type: 'NodePort',
        selector: { app: 'np' },
        ports: [{ name: '80-9090', port: 80, targetPort: 9090, nodePort: a.nodePort(5), protocol: 'TCP' }],
      });
      await eventually(
        async () => (await answering(a.nodeTwin(11), a.nodePort(5), 2).catch(() => undefined))?.size === 1,
        'the node port answering',
      );
      const [pod] = await answering(twin(svc.spec.clusterIP), 80, 3);
      expect(pod).toMatch(/^np-/);
      const cip = await c.kubectl(['create', 'service', 'clusterip', 'np-internal', '--tcp=8081:9090']);
      expect(cip.stdout).toBe('service/np-internal created\n');
      const again = await c.kubectl(['create', 'service', 'clusterip', 'np-internal', '--tcp=8081:9090']);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain('services "np-internal" already exists');
    });

    it('create namespace, then a configmap in it; create deployment refuses a name already taken', async () => {
      const ns = await c.kubectl(['create', 'namespace', 'foo']);
      expect(ns.stdout).toBe('namespace/foo created\n');
      const got = JSON.parse((await c.kubectl(['get', 'ns', 'foo', '-o', 'json'])).stdout);
      expect(got.metadata.labels).toEqual({ 'kubernetes.io/metadata.name': 'foo' });
      expect(got.status.phase).toBe('Active');
      const cm = await c.kubectl([
        'create',
        'configmap',
        'cm1',
        '-n',
        'foo',
        '--from-literal=a=b',
        '--from-literal=c=d',
      ]);
      expect(cm.stdout).toBe('configmap/cm1 created\n');
      expect((await c.kubectl(['get', 'cm', 'cm1', '-n', 'foo', '-o', 'jsonpath={.data}'])).stdout).toBe(
        '{"a":"b","c":"d"}',
      );
      const dup = await c.kubectl(['create', 'deployment', 'web', '--image=nginx']);
      expect(dup.code).toBe(1);
      expect(dup.stderr).toContain(
        'error: failed to create deployment: deployments.apps "web" already exists',
      );
    });

    it('what this kubectl sends as protobuf decodes to what it prints with --dry-run=client -o json', async () => {
      const cap = await startCapture(c);
      try {
        const cmds = [
          ['create', 'deployment', 'probe', '--image=nginx', '--port=8080', '--replicas=3'],
          ['create', 'service', 'nodeport', 'probe', '--tcp=80:8080'],
          ['create', 'namespace', 'probe'],
          ['create', 'configmap', 'probe', '--from-literal=k=v'],
        ];
        for (const args of cmds) {
          const before = cap.requests.length;
          const r = await cap.kubectl([...args, '--dry-run=server', '-o', 'json']);
          expect(r.code, r.stderr).toBe(0);
          const post = cap.requests.slice(before).find((q) => q.method === 'POST');
          expect(post?.contentType).toBe('application/vnd.kubernetes.protobuf');
          const want = JSON.parse((await cap.kubectl([...args, '--dry-run=client', '-o', 'json'])).stdout);
          const [group, version] = String(want.apiVersion).includes('/')
            ? String(want.apiVersion).split('/')
            : ['', String(want.apiVersion)];
          expect(
            decodeProtobufBody(post!.body, { group: group!, version: version!, kind: want.kind }),
          ).toStrictEqual(want);
        }
        // --dry-run=server changed nothing
        expect((await c.kubectl(['get', 'ns', 'probe'])).code).toBe(1);
      } finally {
        await cap.stop();
      }
    });

    it('a protobuf Scale PUT scales; a protobuf DeleteOptions precondition is checked', async () => {
      const put = await c.call(
        'PUT',
        '/apis/apps/v1/namespaces/default/deployments/web/scale',
        envelope('autoscaling/v1', 'Scale', msg(1, bytes(1, 'web'), bytes(3, 'default')), msg(2, int(1, 2))),
        PB,
      );
      expect(put.status, put.text).toBe(200);
      expect(put.json()).toMatchObject({ kind: 'Scale', spec: { replicas: 2 } });
      await eventually(
        () => c.rt.pods().filter((p) => p.pod.startsWith('default/web-')).length === 2,
        'two web pods',
      );
      expect((await c.kubectl(['create', 'configmap', 'doomed', '--from-literal=x=y'])).code).toBe(0);
      // Node's client sends a DELETE body unframed unless told its length
      const del = (body: Buffer) =>
        c.call('DELETE', '/api/v1/namespaces/default/configmaps/doomed', body, {
          ...PB,
          'Content-Length': String(body.length),
        });
      const wrong = await del(envelope('v1', 'DeleteOptions', msg(2, bytes(1, 'not-the-uid'))));
      expect(wrong.status, wrong.text).toBe(409);
      expect(wrong.json().message).toMatch(
        /^Operation cannot be fulfilled on configmaps "doomed": Precondition failed: UID in precondition: not-the-uid, UID in object meta: [0-9a-f-]{36}$/,
      );
      const ok = await del(envelope('v1', 'DeleteOptions', bytes(4, 'Background')));
      expect(ok.status).toBe(200);
    });

    it('a corrupt body and a mismatched kind get the apiserver 400s, and the server keeps serving', async () => {
      const corrupt = await c.call('POST', '/api/v1/namespaces', Buffer.from('k8s\0\x0a\x40garbage'), PB);
      expect(corrupt.status).toBe(400);
      expect(corrupt.json()).toMatchObject({
        kind: 'Status',
        status: 'Failure',
        reason: 'BadRequest',
        code: 400,
        message:
          'the object provided is unrecognized (must be of type Namespace): unexpected EOF (6b3873000a4067617262616765)',
      });
      const pod = await c.call(
        'POST',
        '/api/v1/namespaces/default/services',
        envelope('v1', 'Pod', msg(1, bytes(1, 'p'))),
        PB,
      );
      expect(pod.status).toBe(400);
      expect(pod.json().message).toBe(
        'Pod in version "v1" cannot be handled as a Service: converting (v1.Pod) to (core.Service): unknown conversion',
      );
      const cbor = await c.call('POST', '/api/v1/namespaces', Buffer.from([0xd9, 0xd9, 0xf7]), {
        'Content-Type': 'application/cbor',
      });
      expect(cbor.status).toBe(415);
      expect(cbor.json().message).toContain('application/vnd.kubernetes.protobuf');
      expect((await c.kubectl(['create', 'namespace', 'after'])).stdout).toBe('namespace/after created\n');
      // a generator of a kind kpath does not serve
      const secret = await c.kubectl(['create', 'secret', 'generic', 's', '--from-literal=a=b']);
      expect(secret.code).toBe(1);
      expect(secret.stderr).toContain('the server could not find the requested resource');
    });
  },
);
